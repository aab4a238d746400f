@preconcurrency import CHDF5
import CDeflate
import Dispatch
import LatentCore

/// Reading gzip-compressed datasets on every core: HDF5 inflates chunks one at a time with zlib,
/// so for datasets chunked along the first axis only (1-D arrays; matrices whose chunks are whole
/// rows, as we and anndata write them) whose only filters are shuffle and deflate, and whose
/// stored type is the one we want, we fetch the raw chunks (H5Dread_chunk) and inflate (libdeflate)
/// + unshuffle them in parallel. Anything else goes through the ordinary H5Dread.
extension H5Dataset {
    /// Threads for parallel inflation (set by the command from --threads).
    nonisolated(unsafe) static var readThreads = 1

    /// Rows per chunk and elements per row if the fast path applies, with whether shuffle is on.
    func fastPathLayout(fileType expected: hid_t) -> (chunkRows: Int, rowElems: Int, shuffle: Bool)? {
        let shape = self.shape
        guard !shape.isEmpty else { return nil }
        let t = H5Dget_type(handle.id)
        defer { H5Tclose(t) }
        guard H5Tequal(t, expected) > 0 else { return nil }
        let dcpl = H5Dget_create_plist(handle.id)
        defer { H5Pclose(dcpl) }
        guard H5Pget_layout(dcpl) == H5D_CHUNKED else { return nil }
        var dims = [hsize_t](repeating: 0, count: shape.count)
        guard H5Pget_chunk(dcpl, Int32(shape.count), &dims) == shape.count else { return nil }
        // Chunks must span every axis but the first, so that chunk c is one contiguous run of rows.
        for a in 1..<shape.count where Int(dims[a]) != shape[a] { return nil }
        let nf = H5Pget_nfilters(dcpl)
        var shuffle = false, deflate = false
        for i in 0..<nf {
            var flags: UInt32 = 0, nelem = 4, config: UInt32 = 0
            var values = [UInt32](repeating: 0, count: 4)
            var name = [CChar](repeating: 0, count: 64)
            let id = H5Pget_filter2(dcpl, UInt32(i), &flags, &nelem, &values, 64, &name, &config)
            if id == H5Z_FILTER_SHUFFLE { shuffle = true } else if id == H5Z_FILTER_DEFLATE { deflate = true } else { return nil }
        }
        guard deflate else { return nil }
        return (Int(dims[0]), shape.dropFirst().reduce(1, *), shuffle)
    }

    /// Whether `readChunksInParallel` would take the fast path for this stored type.
    func canReadChunksInParallel(fileType: hid_t) -> Bool { fastPathLayout(fileType: fileType) != nil }

    /// Fills `out` (count elements of `elementSize` bytes) from the chunks, or returns false when
    /// the fast path does not apply (the caller then uses H5Dread): the range read of
    /// HDF5+RangeRead.swift over every row.
    func readChunksInParallel(into out: UnsafeMutableRawPointer, count: Int, elementSize: Int, fileType: hid_t) throws -> Bool {
        guard let (_, rowElems, _) = fastPathLayout(fileType: fileType), rowElems > 0, count % rowElems == 0 else { return false }
        if count == 0 { return true }
        return try readRowsFast(0..<(count / rowElems), into: out, elementSize: elementSize, fileType: fileType)
    }
}

/// Process-wide I/O settings the command line sets from `--threads`.
public enum IOSettings {
    public static var threads: Int {
        get { H5Dataset.readThreads }
        set { H5Dataset.readThreads = max(1, newValue) }
    }
}
