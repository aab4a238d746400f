import LatentCore

/// What the trainer needs to fit a model with covariates: where they enter the network, the
/// cells' side inputs and dispersion groups, and the latent terms with their weights.
public struct TrainingCovariates: @unchecked Sendable {
    public var shape: CovariateShape
    /// cells × shape.sideInputs (one-hot categories, standardised continuous values).
    public var side: Matrix
    /// Per cell, its dispersion row (`--dispersion gene-batch`), else nil.
    public var groups: [Int]?
    public var terms: [(term: any LatentTerm, weight: Double)]

    public init(shape: CovariateShape, side: Matrix, groups: [Int]? = nil, terms: [(term: any LatentTerm, weight: Double)] = []) {
        self.shape = shape
        self.side = side
        self.groups = groups
        self.terms = terms
    }
}

/// Minibatch buffers for covariates: the side-input rows and dispersion groups of the batch's
/// cells, gathered into memory allocated once (a step allocates nothing).
final class CovariateBuffers<T: NetScalar> {
    let side: Matrix?
    let groups: [Int]?
    let width: Int
    let sideBuffer: UnsafeMutablePointer<T>
    let groupBuffer: UnsafeMutablePointer<Int>

    init(side: Matrix?, groups: [Int]?, maxRows: Int) {
        self.side = side
        self.groups = groups
        width = side?.cols ?? 0
        sideBuffer = .allocate(capacity: max(1, maxRows * width))
        groupBuffer = .allocate(capacity: max(1, maxRows))
    }

    deinit { sideBuffer.deallocate(); groupBuffer.deallocate() }

    /// Gathers the rows `cells` (indices into `side`/`groups`).
    func load(_ cells: ArraySlice<Int>) -> StepCovariates<T> {
        if let side {
            side.values.withUnsafeBufferPointer { v in
                for (r, i) in cells.enumerated() { for c in 0..<width { sideBuffer[r * width + c] = T(v[i * width + c]) } }
            }
        }
        if let groups { for (r, i) in cells.enumerated() { groupBuffer[r] = groups[i] } }
        return StepCovariates(side: side != nil ? UnsafePointer(sideBuffer) : nil,
                              groups: groups != nil ? UnsafePointer(groupBuffer) : nil, cells: cells)
    }

    /// The same for consecutive rows i..<i+rows.
    func load(from i: Int, rows: Int) -> StepCovariates<T> { load((i..<(i + rows)).map { $0 }[...]) }
}

extension VAENetwork {
    /// The side input for rows i..<i+rows of `side` (nil without covariates), for the evaluation
    /// passes (encode, decode, loadings).
    func sideRows(_ buffers: CovariateBuffers<T>?, from i: Int, rows: Int) -> UnsafePointer<T>? {
        buffers?.load(from: i, rows: rows).side
    }

    /// Evaluation-mode buffers for `side` (cells × sideInputs), nil when the model has none.
    func evaluationBuffers(_ side: Matrix?) -> CovariateBuffers<T>? {
        guard covariateShape.sideInputs > 0 else { return nil }
        guard let side, side.cols == covariateShape.sideInputs else {
            preconditionFailure("the model reads \(covariateShape.sideInputs) covariate columns; got \(side.map { "\($0.cols)" } ?? "none")")
        }
        return CovariateBuffers(side: side, groups: nil, maxRows: maxRows)
    }
}
