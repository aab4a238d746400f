@preconcurrency import CHDF5
import CRuntime
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
        if copyContiguous(element, from: src, to: parent, name) {
            copied.append("\(element.file.path):\(element.path) → \(parent.handle.childPath(name))")
            return true
        }
        let ok = H5Ocopy(src.handle.id, element.path, parent.handle.id, name, lh5_p_default(), lh5_p_default()) >= 0
        if !ok {
            if H5Lexists(parent.handle.id, name, lh5_p_default()) > 0 { H5Ldelete(parent.handle.id, name, lh5_p_default()) }
            return false
        }
        copied.append("\(element.file.path):\(element.path) → \(parent.handle.childPath(name))")
        return true
    }
}

extension StoredCopier {
    /// Contiguous datasets this large are copied by the kernel instead of through HDF5.
    static let contiguousCopyMinimum = 4 << 20

    /// A large contiguous (unfiltered) dataset — anndata's dense X — copied file to file by
    /// `copy_file_range`: HDF5 creates the dataset (type, shape, attributes, storage allocated
    /// and never filled) and the kernel moves its bytes, where H5Ocopy would read the whole
    /// array into memory and write it back. False, with nothing left at `name`, when the source
    /// is not such a dataset or any step fails (the caller then uses H5Ocopy).
    func copyContiguous(_ element: StoredElement, from src: H5File, to parent: H5Group, _ name: String) -> Bool {
        guard lh5_member_kind(src.handle.id, element.path) == 1 else { return false }
        let d = lh5_dopen(src.handle.id, element.path)
        guard d >= 0 else { return false }
        defer { H5Dclose(d) }
        let size = Int(H5Dget_storage_size(d)), from = H5Dget_offset(d)
        guard lh5_is_contiguous(d) != 0, size >= Self.contiguousCopyMinimum, from != haddr_t.max else { return false }
        let out = lh5_create_contiguous_like(d, parent.handle.id, name)
        guard out >= 0 else { return false }
        let to = H5Dget_offset(out)
        H5Dclose(out)
        let fd = lh5_file_fd(parent.handle.id)
        var ok = to != haddr_t.max && fd >= 0 && H5Fflush(parent.handle.id, H5F_SCOPE_GLOBAL) >= 0
        if ok {
            let input = open(element.file.path, O_RDONLY)
            ok = input >= 0 && Self.copyRange(from: input, at: Int(from), to: fd, at: Int(to), count: size)
            if input >= 0 { close(input) }
        }
        if !ok { H5Ldelete(parent.handle.id, name, lh5_p_default()) }
        return ok
    }

    /// `count` bytes from offset `a` of `input` to offset `b` of `output`: copy_file_range, or
    /// pread/pwrite where the kernel cannot (another file system, an old kernel).
    static func copyRange(from input: Int32, at a: Int, to output: Int32, at b: Int, count: Int) -> Bool {
        var inOff = Int64(a), outOff = Int64(b), left = count
        while left > 0 {
            let n = lr_copy_file_range(input, &inOff, output, &outOff, left)
            if n > 0 { left -= n; continue }
            if n == 0 { return false }
            break
        }
        if left == 0 { return true }
        let chunk = 8 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { buffer.deallocate() }
        while left > 0 {
            let r = pread(input, buffer, min(chunk, left), off_t(inOff))
            guard r > 0 else { return false }
            var done = 0
            while done < r {
                let w = pwrite(output, buffer + done, r - done, off_t(outOff) + off_t(done))
                guard w > 0 else { return false }
                done += w
            }
            inOff += Int64(r); outOff += Int64(r); left -= r
        }
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
