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
        if copyAsWritten(element, from: src, to: parent, name) || copyContiguous(element, from: src, to: parent, name) {
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
    /// A matrix element stored as `H5AD.Writer.matrix` stores it — a dense array, or a CSR/CSC
    /// group of data, indices and indptr, each chunked by `arrayCreateProperties`' rule with
    /// shuffle + deflate — rebuilt by the same calls in the same order, the stored chunks handed
    /// over unchanged (H5Dread_chunk → H5Dwrite_chunk). The file then holds the very bytes that
    /// encoding the same values at that level gives, which is what lets a sharded run's gather
    /// (which encodes) reproduce a single run's file (which carries). False, with nothing left
    /// at `name`, for anything else (anndata's own layouts: contiguous, other chunks or filters).
    func copyAsWritten(_ element: StoredElement, from src: H5File, to parent: H5Group, _ name: String) -> Bool {
        let root = src.root
        let ok: Bool
        switch lh5_member_kind(root.handle.id, element.path) {
        case 1:
            guard let d = try? root.dataset(element.path), let (type, version) = Self.encoding(d, exactly: []),
                  type == "array" else { return false }
            do {
                try Self.copyChunks(d, to: parent, name).setEncoding(type, version)
                ok = true
            } catch {
                ok = false
            }
        case 0:
            guard let g = try? root.group(element.path), let (type, version) = Self.encoding(g, exactly: ["shape"]),
                  type == "csr_matrix" || type == "csc_matrix", (try? g.memberNames())?.sorted() == ["data", "indices", "indptr"],
                  let shape = try? g.int64sAttribute("shape"),
                  let parts = try? ["data", "indices", "indptr"].map({ try g.dataset($0) }),
                  parts.allSatisfy({ Self.writtenLevel($0) != nil }) else { return false }
            do {
                let out = try parent.createGroup(name)
                try out.setEncoding(type, version)
                try out.setAttribute("shape", int64s: shape)
                for (part, d) in zip(["data", "indices", "indptr"], parts) { _ = try Self.copyChunks(d, to: out, part) }
                ok = true
            } catch {
                ok = false
            }
        default:
            return false
        }
        if !ok, H5Lexists(parent.handle.id, name, lh5_p_default()) > 0 { H5Ldelete(parent.handle.id, name, lh5_p_default()) }
        return ok
    }

    /// The encoding attributes of an element whose attributes are exactly those two plus `extra`.
    static func encoding(_ o: H5Object, exactly extra: [String]) -> (String, String)? {
        guard lh5_num_attrs(o.handle.id) == 2 + extra.count, extra.allSatisfy(o.hasAttribute) else { return nil }
        guard let t = try? o.stringAttribute("encoding-type"), let v = try? o.stringAttribute("encoding-version") else { return nil }
        return (t, v)
    }

    /// The deflate level of a dataset laid out as `arrayCreateProperties` lays it out at that
    /// level (chunks along the first axis, shuffle then deflate), or nil.
    static func writtenLevel(_ d: H5Dataset) -> Int? {
        let dcpl = H5Dget_create_plist(d.handle.id), space = H5Dget_space(d.handle.id), type = H5Dget_type(d.handle.id)
        defer { H5Pclose(dcpl); H5Sclose(space); H5Tclose(type) }
        guard H5Pget_layout(dcpl) == H5D_CHUNKED, H5Pget_nfilters(dcpl) == 2 else { return nil }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard rank >= 1 else { return nil }
        var dims = [hsize_t](repeating: 0, count: rank), chunk = [hsize_t](repeating: 0, count: rank)
        H5Sget_simple_extent_dims(space, &dims, nil)
        guard H5Pget_chunk(dcpl, Int32(rank), &chunk) == Int32(rank) else { return nil }
        var flags: UInt32 = 0, n = 1, level: UInt32 = 0, config: UInt32 = 0
        var n0 = 0, none: UInt32 = 0
        guard H5Pget_filter2(dcpl, 0, &flags, &n0, &none, 0, nil, &config) == H5Z_FILTER_SHUFFLE,
              H5Pget_filter2(dcpl, 1, &flags, &n, &level, 0, nil, &config) == H5Z_FILTER_DEFLATE, n >= 1, level > 0 else { return nil }
        let shape = dims.map { Int($0) }
        let rowBytes = shape.dropFirst().reduce(1, *) * Int(H5Tget_size(type))
        var expected = dims
        expected[0] = hsize_t(chunkRowsFor(rows: shape[0], rowBytes: rowBytes))
        return chunk == expected && shape.reduce(1, *) > 0 ? Int(level) : nil
    }

    /// Creates `name` as `writeArray` would for the source's shape, type and level, and fills it
    /// with the source's chunks as stored, in chunk order.
    static func copyChunks(_ d: H5Dataset, to parent: H5Group, _ name: String) throws -> H5Dataset {
        guard let level = writtenLevel(d) else { throw d.error("not laid out as written") }
        let space = H5Dget_space(d.handle.id), type = H5Dget_type(d.handle.id)
        defer { H5Sclose(space); H5Tclose(type) }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        var dims = [hsize_t](repeating: 0, count: rank)
        H5Sget_simple_extent_dims(space, &dims, nil)
        let (dcpl, chunkRows) = parent.arrayCreateProperties(shape: dims.map { Int($0) }, elementSize: Int(H5Tget_size(type)),
                                                              compression: Compression(level: level))
        defer { H5Pclose(dcpl) }
        let id = lh5_dcreate(parent.handle.id, name, type, space, dcpl)
        if id < 0 { throw parent.error("cannot create \(name)") }
        let out = H5Dataset(H5Handle(id: id, path: parent.handle.childPath(name), file: parent.file, closer: H5Dclose))
        var buffer = [UInt8]()
        var offset = [hsize_t](repeating: 0, count: rank)
        var row = 0
        while row < Int(dims[0]) {
            offset[0] = hsize_t(row)
            var size: hsize_t = 0, mask: UInt32 = 0
            guard H5Dget_chunk_storage_size(d.handle.id, &offset, &size) >= 0, size > 0 else { throw d.error("missing chunk") }
            if buffer.count < Int(size) { buffer = [UInt8](repeating: 0, count: Int(size)) }
            let ok = buffer.withUnsafeMutableBytes { b in
                H5Dread_chunk(d.handle.id, lh5_p_default(), &offset, &mask, b.baseAddress) >= 0
                    && H5Dwrite_chunk(id, lh5_p_default(), mask, &offset, Int(size), b.baseAddress) >= 0
            }
            if !ok { throw d.error("cannot copy a chunk") }
            row += chunkRows
        }
        return out
    }

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
