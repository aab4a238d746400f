import LatentCore

/// The oracle-triplet term of a supervised subspace (Karaletsos, Belongie & Rätsch 2016): the
/// coordinates `coordinates` of μ should place a cell nearer to a cell that is "similar" under a
/// known covariate than to one that is "dissimilar".
///
/// Likelihood (the paper's softmax over negative distances, here with squared Euclidean
/// distances d on the subspace's coordinates of μ):
///   p(a ~ s closer than a ~ d) = e^{−d(a,s)} / (e^{−d(a,s)} + e^{−d(a,d)}),
///   −log p = softplus(d(a,s) − d(a,d)).
/// Squared distances keep the gradient linear in μ; the loss saturates once the dissimilar cell
/// is farther by a few units, while the KL term keeps the scale of μ bounded, so the pair of
/// terms settles on separated, prior-sized clusters instead of pushing codes apart forever.
/// μ, not z: the constraint is on where the encoder puts a cell, not on one noisy sample.
///
/// Triplets: every row of the minibatch is an anchor once. Categorical labels: the similar cell
/// is drawn uniformly among the batch's other rows with the anchor's category, the dissimilar
/// one among rows of other categories (anchors with neither are skipped). Continuous labels: two
/// other rows are drawn; the one nearer in value is the similar one (ties skipped). The value is
/// the sum over triplets divided by the batch's rows (a per-cell mean, like the other terms).
public struct TripletTerm: LatentTerm {
    public enum Labels: Sendable, Equatable {
        /// Category code per training cell (-1: missing; such cells are neither anchors nor partners).
        case categorical([Int])
        /// Value per training cell (NaN: missing).
        case continuous([Double])
    }

    public let name: String
    public let coordinates: Range<Int>
    public let labels: Labels

    public init(name: String, coordinates: Range<Int>, labels: Labels) {
        self.name = name
        self.coordinates = coordinates
        self.labels = labels
    }

    /// The (anchor, similar, dissimilar) rows of one minibatch whose cells are `cells`.
    public func triplets(cells: ArraySlice<Int>, rng: inout SeededRNG) -> [(Int, Int, Int)] {
        let rows = cells.count
        var out: [(Int, Int, Int)] = []
        out.reserveCapacity(rows)
        let base = cells.startIndex
        switch labels {
        case .categorical(let codes):
            let label = (0..<rows).map { codes[cells[base + $0]] }
            for a in 0..<rows where label[a] >= 0 {
                var same = 0, other = 0
                for r in 0..<rows where r != a && label[r] >= 0 { if label[r] == label[a] { same += 1 } else { other += 1 } }
                guard same > 0, other > 0 else { continue }
                let si = rng.below(same), di = rng.below(other)
                var s = -1, d = -1, cs = 0, cd = 0
                for r in 0..<rows where r != a && label[r] >= 0 {
                    if label[r] == label[a] { if cs == si { s = r }; cs += 1 } else { if cd == di { d = r }; cd += 1 }
                }
                out.append((a, s, d))
            }
        case .continuous(let values):
            let v = (0..<rows).map { values[cells[base + $0]] }
            let valid = (0..<rows).filter { !v[$0].isNaN }
            guard valid.count >= 3 else { return out }
            for a in valid {
                // Two distinct partners other than the anchor, uniformly.
                // uniform over the valid rows but a: a's slot stands for the last one
                var i = valid[rng.below(valid.count - 1)]
                if i == a { i = valid[valid.count - 1] }
                var j = i
                while j == i || j == a { j = valid[rng.below(valid.count)] }
                let di = abs(v[i] - v[a]), dj = abs(v[j] - v[a])
                if di == dj { continue }
                out.append(di < dj ? (a, i, j) : (a, j, i))
            }
        }
        return out
    }

    public func apply<T: NetScalar>(_ batch: LatentBatch<T>, weight: Double, grads: LatentGrads<T>?, rng: inout SeededRNG) -> Double {
        precondition(batch.cells.count == batch.rows, "the triplet term needs the minibatch's cell indices")
        let list = triplets(cells: batch.cells, rng: &rng)
        var total = 0.0
        let scale = weight / Double(batch.rows)
        for (a, s, d) in list {
            var ds = 0.0, dd = 0.0
            for c in coordinates {
                let ma = Double(batch.mu(a, c))
                let u = ma - Double(batch.mu(s, c)), w = ma - Double(batch.mu(d, c))
                ds += u * u; dd += w * w
            }
            let x = ds - dd
            total += softplus(x)
            guard let grads else { continue }
            // d softplus(ds − dd) = σ(ds − dd)·(d ds − d dd); d ds/dμ_a = 2(μ_a − μ_s), …
            let p = sigmoid(x) * scale * 2
            for c in coordinates {
                let ma = Double(batch.mu(a, c)), gs = p * (ma - Double(batch.mu(s, c))), gd = p * (ma - Double(batch.mu(d, c)))
                grads.addMu(a, c, T(gs - gd))
                grads.addMu(s, c, T(-gs))
                grads.addMu(d, c, T(gd))
            }
        }
        return total / Double(batch.rows)
    }
}
