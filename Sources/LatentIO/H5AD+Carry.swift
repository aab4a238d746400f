@preconcurrency import CHDF5
import LatentCore
#if canImport(Glibc)
import Glibc
#endif

// Carrying unchanged elements from the file a dataset was read from into the file being written.
//
// HDF5's object copy (H5Ocopy) moves a dataset's chunks as stored: for numeric types it does not
// run the filter pipeline (no inflate, no deflate), only the object header and chunk index are
// rebuilt, so a 240 MB gzip X is copied at disk speed. Variable-length strings (obs/var index and
// string columns) are converted on the way, which is cheap at annotation sizes. The copy keeps the
// source's attributes, chunking and filters: the carried element is exactly what the input held.

extension StoredFile {
    /// The file at `path` as it is now (device, inode, size, mtime), or nil if it cannot be stat'ed.
    public static func current(_ path: String) -> StoredFile? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        let fp: [Int64] = [Int64(bitPattern: UInt64(st.st_dev)), Int64(bitPattern: UInt64(st.st_ino)), Int64(st.st_size),
                           Int64(st.st_mtim.tv_sec), Int64(st.st_mtim.tv_nsec)]
        return StoredFile(path: path, fingerprint: fp)
    }
}

/// Opens each source file once per write and copies stored elements from it. A source that has
/// changed since it was read (other fingerprint), cannot be opened, or whose copy fails is not
/// used: the caller then encodes the values it holds in memory, so carrying is only ever a
/// shortcut, never a different result for the reader.
final class StoredCopier {
    private var files: [StoredFile: H5File?] = [:]
    /// Elements actually copied, as "source path → destination path" (for tests and --timing).
    private(set) var copied: [String] = []

    private func source(_ f: StoredFile) -> H5File? {
        if let cached = files[f] { return cached }
        var opened: H5File? = nil
        if StoredFile.current(f.path) == f { opened = try? H5File.open(f.path) }
        files[f] = opened
        return opened
    }

    /// Copies `element` to `parent/name`; false (and nothing left at `parent/name`) when it cannot.
    func copy(_ element: StoredElement?, to parent: H5Group, _ name: String) -> Bool {
        guard let element, let src = source(element.file) else { return false }
        let ok = H5Ocopy(src.handle.id, element.path, parent.handle.id, name, lh5_p_default(), lh5_p_default()) >= 0
        if !ok {
            if H5Lexists(parent.handle.id, name, lh5_p_default()) > 0 { H5Ldelete(parent.handle.id, name, lh5_p_default()) }
            return false
        }
        copied.append("\(element.file.path):\(element.path) → \(parent.handle.childPath(name))")
        return true
    }
}

extension H5Dataset {
    /// The filters of a chunked dataset (H5Z ids: 1 deflate, 2 shuffle); [] when not filtered.
    var filterIDs: [Int32] {
        let dcpl = H5Dget_create_plist(handle.id)
        defer { H5Pclose(dcpl) }
        return (0..<max(0, H5Pget_nfilters(dcpl))).map { i in
            var flags: UInt32 = 0, nelem = 0, config: UInt32 = 0
            return Int32(H5Pget_filter2(dcpl, UInt32(i), &flags, &nelem, nil, 0, nil, &config))
        }
    }
}
