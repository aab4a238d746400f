@preconcurrency import CHDF5
import LatentCore

extension H5AD {
    /// Names of the layers an .h5ad holds, without reading them (a streamed stage that does not
    /// read layers falls back to reading the file whole when there are any).
    public static func layerNames(_ path: String) throws -> [String] {
        try HDF5Lock.run {
            let root = try H5File.open(path).root
            guard root.kind(of: "layers") == .group else { return [] }
            return try root.group("layers").memberNames()
        }
    }
}
