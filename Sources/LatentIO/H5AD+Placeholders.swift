import LatentCore
#if canImport(Glibc)
import Glibc
#endif

extension H5AD {
    /// Writes a dataset read with `ReadOptions(readMatrices: false)` (X and layers are
    /// placeholders; a stage streamed X from the file): X and every layer must be carried from
    /// their file as stored. When one was not (the input was replaced or changed while the stage
    /// ran, so its fingerprint no longer matches), the output is removed and the error says to
    /// run again: placeholders must never reach a file as values.
    public static func writeCarryingMatrices(_ ds: Dataset, to path: String, compression: Compression = Compression()) throws {
        try write(ds, to: path, compression: compression)
        let carried = Set(lastCarried.compactMap { $0.components(separatedBy: " → ").last })
        let needed = ["/X"] + ds.layers.keys.map { "/layers/" + $0 }
        if let missing = needed.first(where: { !carried.contains($0) }) {
            unlink(path)
            throw LatentError.badInput(ds.stored.X?.file.path, missing, "the input file changed while latent was reading it",
                                       hint: "run the command again once the file is complete")
        }
    }
}
