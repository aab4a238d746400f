/// Where parts of a Dataset still exist, unchanged, as objects of an HDF5 file.
///
/// Why: most stages only add keys (obsm/varm/uns); re-encoding an unchanged X of hundreds of MB
/// (gzip) cost them far more than their computation. A reader records, for each element it
/// decodes, the file and HDF5 path it came from; a writer may then copy those objects' stored
/// bytes instead of encoding the values again. The record is dropped as soon as the element is
/// assigned or mutated (property observers on Dataset, the subscript of MatrixDict), so a stage
/// cannot carry stale bytes by mistake: the only way to get a carried element is to leave it
/// untouched.

/// One HDF5 file, identified by path and by what `stat` said when it was read, so that a file
/// replaced or rewritten since then is never copied from.
public struct StoredFile: Sendable, Hashable {
    public let path: String
    /// Device, inode, size, modification time (s, ns) at the time of reading.
    public let fingerprint: [Int64]

    public init(path: String, fingerprint: [Int64]) {
        self.path = path
        self.fingerprint = fingerprint
    }
}

/// An HDF5 object (dataset or group) holding exactly the values of one Dataset element.
public struct StoredElement: Sendable, Hashable {
    public let file: StoredFile
    /// Absolute HDF5 path, e.g. "/X", "/obs", "/layers/counts".
    public let path: String

    public init(file: StoredFile, path: String) {
        self.file = file
        self.path = path
    }
}

/// The stored locations of a Dataset's X, obs and var (layers/obsm/varm keep theirs per key).
public struct StoredElements: Sendable, Hashable {
    public var X: StoredElement?
    public var obs: StoredElement?
    public var `var`: StoredElement?

    public init(X: StoredElement? = nil, obs: StoredElement? = nil, `var` v: StoredElement? = nil) {
        self.X = X
        self.obs = obs
        self.var = v
    }
}

extension Dataset {
    /// Forgets every stored location: the next write encodes everything (e.g. `latent import`,
    /// whose job is to store the data the way its flags say).
    public mutating func forgetStored() {
        stored = StoredElements()
        layers.forgetStored()
        obsm.forgetStored()
        varm.forgetStored()
    }

    /// Points stored locations in `oldPath` at `newPath`, for a file renamed since it was written
    /// or read (e.g. a cache entry directory moved into place). A rename keeps the file's
    /// fingerprint, so the marks stay valid; a file really changed is still never copied from.
    public mutating func storedFileMoved(from oldPath: String, to newPath: String) {
        func moved(_ e: StoredElement?) -> StoredElement? {
            guard let e, e.file.path == oldPath else { return e }
            return StoredElement(file: StoredFile(path: newPath, fingerprint: e.file.fingerprint), path: e.path)
        }
        stored = StoredElements(X: moved(stored.X), obs: moved(stored.obs), var: moved(stored.var))
        for k in layers.keys { layers.markStored(k, at: moved(layers.stored[k])) }
        for k in obsm.keys { obsm.markStored(k, at: moved(obsm.stored[k])) }
        for k in varm.keys { varm.markStored(k, at: moved(varm.stored[k])) }
    }

    /// Every stored location, for tests and messages: HDF5 path in this dataset → where stored.
    public var storedElements: [String: StoredElement] {
        var out: [String: StoredElement] = [:]
        if let e = stored.X { out["X"] = e }
        if let e = stored.obs { out["obs"] = e }
        if let e = stored.var { out["var"] = e }
        for (k, e) in layers.stored { out["layers/" + k] = e }
        for (k, e) in obsm.stored { out["obsm/" + k] = e }
        for (k, e) in varm.stored { out["varm/" + k] = e }
        return out
    }
}
