import Foundation
import LatentCore
import LatentIO

/// `model.h5`: a trained VAE that `latent vae encode` and `latent traverse` load.
///
/// Root attributes: `format` = "latent-vae", `format_version`, `latent_version`, `parameters`
/// (the VAEParameters as JSON). Datasets: `parameters/<tensor>` (float32, PyTorch-like names,
/// weights stored inputs × outputs), `state/<stack>.<layer>.running_mean|running_var` (batch
/// norm), `var_names` (the genes, in input order), `latent_mean`/`latent_std` (of the cells'
/// posterior means, for traversals), `scale_factor` (what decoded NB proportions are multiplied
/// by: the median library size), `loadings` (genes × K) and `kl_per_latent`.
public struct VAEModelFile {
    public static let format = "latent-vae"
    public static let formatVersion = "1"

    public var parameters: VAEParameters
    public var network: VAENetwork<Float>
    public var genes: [String]
    public var latentMean: [Double]
    public var latentStd: [Double]
    public var scaleFactor: Double
    public var loadings: Matrix
    public var klPerLatent: [Double]
    // MARK: covariates
    /// Covariate categories and scalings (root attribute `covariates`, JSON); nil without covariates.
    public var covariates: CovariateDesign? = nil

    public func write(to path: String, toolVersion: String) throws {
        var f = ArrayFile()
        f.attributes["format"] = Self.format
        f.attributes["format_version"] = Self.formatVersion
        f.attributes["latent_version"] = toolVersion
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        f.attributes["parameters"] = String(decoding: try enc.encode(parameters), as: UTF8.self)
        if let covariates { f.attributes["covariates"] = String(decoding: try enc.encode(covariates), as: UTF8.self) }
        let p = network.parameters
        for t in p.tensors { f["parameters/" + t.name] = .float32(p.array(t), shape: t.shape) }
        for stack in [network.encoder, network.decoder] {
            for (l, s) in stack.specs.enumerated() where s.batchNorm {
                f["state/\(stack.prefix).\(l).running_mean"] = .float32(stack.runningMean[l], shape: [s.outputs])
                f["state/\(stack.prefix).\(l).running_var"] = .float32(stack.runningVar[l], shape: [s.outputs])
            }
        }
        f["var_names"] = .strings(genes)
        f["latent_mean"] = .float64(latentMean, shape: [latentMean.count])
        f["latent_std"] = .float64(latentStd, shape: [latentStd.count])
        f["scale_factor"] = .float64([scaleFactor], shape: [1])
        f["loadings"] = .float32(loadings.values, shape: [loadings.rows, loadings.cols])
        f["kl_per_latent"] = .float64(klPerLatent, shape: [klPerLatent.count])
        if let m = network.decoderMask {          // MARK: programs (latents × genes, 1 = allowed)
            f["programs/mask"] = .float32(m.map { Float($0) }, shape: [network.latent, network.genes])
        }
        // Uncompressed: trained float32 weights barely deflate (gzip level 4 saved 14 % of the
        // 4.6 MB model of a 2,000-gene 256-128-16 VAE, on one core), so the write is a plain copy.
        try f.write(to: path, compression: .none)
    }

    public static func read(_ path: String, maxRows: Int = 256) throws -> VAEModelFile {
        let f = try ArrayFile.read(path, attributeNames: ["format", "format_version", "latent_version", "parameters", "covariates"])
        guard f.attributes["format"] == format else {
            throw LatentError.badInput(path, "/", "not a latent VAE model (no format=\"\(format)\" attribute)", hint: "pass the model.h5 written by `latent vae`")
        }
        guard f.attributes["format_version"] == formatVersion else {
            throw LatentError.badInput(path, "/", "model format version \(f.attributes["format_version"] ?? "?") is not \(formatVersion)", hint: "retrain with this version of latent")
        }
        let params: VAEParameters
        do {
            params = try JSONDecoder().decode(VAEParameters.self, from: Data((f.attributes["parameters"] ?? "").utf8))
        } catch {
            throw LatentError.badInput(path, "/@parameters", "cannot read the model's parameters (damaged or foreign file)")
        }
        if let problem = params.problems().first {
            throw LatentError.badInput(path, "/@parameters", "invalid model configuration: \(problem) (damaged or foreign file)")
        }
        let genes = try f.strings("var_names", file: path)
        guard !genes.isEmpty else { throw LatentError.badInput(path, "/var_names", "no genes (damaged file)") }
        // MARK: covariates
        var design: CovariateDesign? = nil
        if let json = f.attributes["covariates"] {
            do { design = try JSONDecoder().decode(CovariateDesign.self, from: Data(json.utf8)) } catch {
                throw LatentError.badInput(path, "/@covariates", "cannot read the model's covariates (damaged or foreign file)")
            }
        }
        if (params.covariates?.hasSideInputs ?? false) != (design != nil) {
            throw LatentError.badInput(path, "/@covariates", "the model's parameters and covariates disagree (damaged file)")
        }
        let shape = design.map { d in
            CovariateShape(sideInputs: d.width, encodeCovariates: params.covariates?.encodeCovariates ?? false,
                           dispersionGroups: params.covariates?.dispersion == .geneBatch ? d.batchCategories.count : 1)
        } ?? .none
        var rng = SeededRNG(seed: 0)
        // MARK: programs
        var decoderMask: [UInt8]? = nil
        if params.programs != nil {
            let (m, shape) = try f.floats("programs/mask", file: path)
            guard shape == [params.latent, genes.count] else {
                throw LatentError.badInput(path, "/programs/mask", "shape \(shape) is not latents × genes [\(params.latent), \(genes.count)] (damaged file)")
            }
            decoderMask = m.map { $0 != 0 ? 1 : 0 }
        }
        let net = VAENetwork<Float>(genes: genes.count, config: params, datasetSize: 1, maxRows: maxRows, rng: &rng, covariates: shape, decoderMask: decoderMask)
        for t in net.parameters.tensors {
            let (v, shape) = try f.floats("parameters/" + t.name, file: path)
            guard shape == t.shape else {
                throw LatentError.badInput(path, "/parameters/" + t.name, "shape \(shape) does not match the architecture's \(t.shape)")
            }
            net.parameters.set(t, v)
        }
        for stack in [net.encoder, net.decoder] {
            for (l, s) in stack.specs.enumerated() where s.batchNorm {
                for stat in ["running_mean", "running_var"] {
                    let name = "state/\(stack.prefix).\(l).\(stat)"
                    let v = try f.floats(name, file: path).values
                    guard v.count == s.outputs else {
                        throw LatentError.badInput(path, "/" + name, "has \(v.count) values for \(s.outputs) units (damaged file)")
                    }
                    if stat == "running_mean" { stack.runningMean[l] = v } else { stack.runningVar[l] = v }
                }
            }
        }
        let (lv, lshape) = try f.floats("loadings", file: path)
        let k = params.latent
        guard lshape == [genes.count, k], lv.count == genes.count * k else {
            throw LatentError.badInput(path, "/loadings", "shape \(lshape) is not genes × latents [\(genes.count), \(k)] (damaged file)")
        }
        let latentMean = try f.doubles("latent_mean", file: path), latentStd = try f.doubles("latent_std", file: path)
        let kl = try f.doubles("kl_per_latent", file: path)
        for (name, v) in [("latent_mean", latentMean), ("latent_std", latentStd), ("kl_per_latent", kl)] where v.count != k {
            throw LatentError.badInput(path, "/" + name, "has \(v.count) values for \(k) latents (damaged file)")
        }
        return VAEModelFile(parameters: params, network: net, genes: genes,
                            latentMean: latentMean, latentStd: latentStd,
                            scaleFactor: try f.doubles("scale_factor", file: path).first ?? 1,
                            loadings: Matrix(rows: genes.count, cols: k, values: lv), klPerLatent: kl, covariates: design)
    }
}
