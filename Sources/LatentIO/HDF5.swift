@preconcurrency import CHDF5
import LatentCore
#if canImport(Glibc)
import Glibc
#endif

// A thin, safe layer over the HDF5 C API: every handle closes itself, every failure becomes a
// LatentError naming the file and the HDF5 path. Nothing here knows about AnnData.

/// HDF5 must be initialised before its `_g` globals (the native type ids) are valid.
let hdf5Ready: Bool = {
    H5open()
    if getenv("LATENT_HDF5_DEBUG") == nil { lh5_silence_errors() }
    return true
}()

/// The kind of values a dataset or attribute holds, as far as we care.
enum H5ValueClass: Equatable {
    case integer(signed: Bool, size: Int)
    case float(size: Int)
    case string(variable: Bool)
    case bool          // h5py's enum {FALSE, TRUE} over int8
    case other(String)
}

final class H5Handle {
    let id: hid_t
    let path: String      // HDF5 path inside the file, "/" for the root
    let file: String      // file name for messages
    private let closer: (hid_t) -> herr_t

    init(id: hid_t, path: String, file: String, closer: @escaping (hid_t) -> herr_t) {
        self.id = id
        self.path = path
        self.file = file
        self.closer = closer
    }
    // Handles of a streaming source may be released on the prefetch thread: close under the lock.
    deinit { HDF5Lock.run { _ = closer(id) } }

    func error(_ message: String, hint: String? = nil) -> LatentError {
        .badInput(file, path, message, hint: hint)
    }

    func childPath(_ name: String) -> String { path == "/" ? "/" + name : path + "/" + name }
}

/// An open HDF5 file.
final class H5File {
    let handle: H5Handle
    let name: String

    private init(handle: H5Handle, name: String) {
        self.handle = handle
        self.name = name
    }

    static func open(_ path: String) throws -> H5File {
        _ = hdf5Ready
        if lh5_is_hdf5(path) <= 0 {
            throw LatentError.badInput(path, nil, "not an HDF5 file (truncated, or another format)")
        }
        let id = lh5_fopen_rdonly(path)
        if id < 0 { throw LatentError.badInput(path, nil, "cannot open as HDF5 (truncated or damaged file)") }
        return H5File(handle: H5Handle(id: id, path: "/", file: path, closer: H5Fclose), name: path)
    }

    /// Creates (truncates) a file for writing. `displayName` is what messages call it.
    static func create(_ path: String, displayName: String) throws -> H5File {
        _ = hdf5Ready
        let id = lh5_fcreate(path)
        if id < 0 { throw LatentError.internalFailure("cannot create HDF5 file", file: displayName) }
        return H5File(handle: H5Handle(id: id, path: "/", file: displayName, closer: H5Fclose), name: displayName)
    }

    var root: H5Group { H5Group(handle) }

    func flush() throws {
        if H5Fflush(handle.id, H5F_SCOPE_GLOBAL) < 0 { throw LatentError.internalFailure("cannot flush HDF5 file", file: name) }
    }
}

/// A group or dataset: the common part (attributes).
class H5Object {
    let handle: H5Handle
    init(_ handle: H5Handle) { self.handle = handle }
    var path: String { handle.path }
    var file: String { handle.file }
    func error(_ message: String, hint: String? = nil) -> LatentError { handle.error(message, hint: hint) }

    func hasAttribute(_ name: String) -> Bool { H5Aexists(handle.id, name) > 0 }

    private func openAttribute(_ name: String) throws -> H5Handle {
        let a = lh5_aopen(handle.id, name)
        if a < 0 { throw error("cannot read attribute '\(name)'") }
        return H5Handle(id: a, path: handle.path, file: handle.file, closer: H5Aclose)
    }

    /// A string attribute (scalar variable- or fixed-length), or nil when absent.
    func stringAttribute(_ name: String) throws -> String? {
        guard hasAttribute(name) else { return nil }
        let a = try openAttribute(name)
        let strs = try readStringValues(a, isAttribute: true)
        guard strs.count == 1 else { throw error("attribute '\(name)' should be one string, found \(strs.count)") }
        return strs[0]
    }

    /// A string-array attribute (anndata's `column-order`); an empty numeric array reads as [].
    func stringsAttribute(_ name: String) throws -> [String]? {
        guard hasAttribute(name) else { return nil }
        let a = try openAttribute(name)
        let t = H5Aget_type(a.id)
        defer { H5Tclose(t) }
        if H5Tget_class(t) != H5T_STRING {
            let n = try elementCount(a, isAttribute: true)
            if n == 0 { return [] }
            throw error("attribute '\(name)' should hold strings")
        }
        return try readStringValues(a, isAttribute: true)
    }

    func int64sAttribute(_ name: String) throws -> [Int64]? {
        guard hasAttribute(name) else { return nil }
        let a = try openAttribute(name)
        let n = try elementCount(a, isAttribute: true)
        var out = [Int64](repeating: 0, count: n)
        let t = H5Aget_type(a.id)
        defer { H5Tclose(t) }
        let cls = H5Tget_class(t)
        guard cls == H5T_INTEGER || cls == H5T_FLOAT else { throw error("attribute '\(name)' should be numeric") }
        if n > 0, H5Aread(a.id, lh5_native_int64(), &out) < 0 { throw error("cannot read attribute '\(name)'") }
        return out
    }

    /// A boolean attribute (h5py's enum bool, or any integer).
    func boolAttribute(_ name: String) throws -> Bool? {
        guard hasAttribute(name) else { return nil }
        let a = try openAttribute(name)
        let t = H5Aget_type(a.id)
        defer { H5Tclose(t) }
        guard H5Tget_size(t) <= 8 else { throw error("attribute '\(name)' should be a bool") }
        let native = H5Tget_native_type(t, H5T_DIR_ASCEND)
        defer { H5Tclose(native) }
        var buf = [UInt8](repeating: 0, count: 8)
        if H5Aread(a.id, native, &buf) < 0 { throw error("cannot read attribute '\(name)'") }
        return buf.contains { $0 != 0 }
    }

    // MARK: writing attributes

    func setAttribute(_ name: String, string: String) throws {
        let t = makeUTF8VariableStringType()
        defer { H5Tclose(t) }
        let space = H5Screate(H5S_SCALAR)
        defer { H5Sclose(space) }
        if hasAttribute(name) { H5Adelete(handle.id, name) }
        let a = lh5_acreate(handle.id, name, t, space)
        guard a >= 0 else { throw LatentError.internalFailure("cannot write attribute \(name) at \(path)", file: file) }
        defer { H5Aclose(a) }
        let ok = string.withCString { p -> herr_t in
            var ptr: UnsafePointer<CChar>? = p
            return H5Awrite(a, t, &ptr)
        }
        if ok < 0 { throw LatentError.internalFailure("cannot write attribute \(name) at \(path)", file: file) }
    }

    func setAttribute(_ name: String, strings: [String]) throws {
        let t = makeUTF8VariableStringType()
        defer { H5Tclose(t) }
        var dims = [hsize_t(strings.count)]
        let space = H5Screate_simple(1, &dims, nil)
        defer { H5Sclose(space) }
        let a = lh5_acreate(handle.id, name, t, space)
        guard a >= 0 else { throw LatentError.internalFailure("cannot write attribute \(name) at \(path)", file: file) }
        defer { H5Aclose(a) }
        let ok = withCStringArray(strings) { ptrs in H5Awrite(a, t, ptrs) }
        if ok < 0 { throw LatentError.internalFailure("cannot write attribute \(name) at \(path)", file: file) }
    }

    /// anndata writes an empty `column-order` as an empty float64 array.
    func setAttributeEmptyFloatArray(_ name: String) throws {
        var dims = [hsize_t(0)]
        let space = H5Screate_simple(1, &dims, nil)
        defer { H5Sclose(space) }
        let a = lh5_acreate(handle.id, name, lh5_ieee_f64le(), space)
        guard a >= 0 else { throw LatentError.internalFailure("cannot write attribute \(name) at \(path)", file: file) }
        H5Aclose(a)
    }

    func setAttribute(_ name: String, int64s: [Int64]) throws {
        var dims = [hsize_t(int64s.count)]
        let space = H5Screate_simple(1, &dims, nil)
        defer { H5Sclose(space) }
        let a = lh5_acreate(handle.id, name, lh5_std_i64le(), space)
        guard a >= 0 else { throw LatentError.internalFailure("cannot write attribute \(name) at \(path)", file: file) }
        defer { H5Aclose(a) }
        if H5Awrite(a, lh5_native_int64(), int64s) < 0 { throw LatentError.internalFailure("cannot write attribute \(name)", file: file) }
    }

    func setAttribute(_ name: String, bool: Bool) throws {
        let t = makeBoolType()
        defer { H5Tclose(t) }
        let space = H5Screate(H5S_SCALAR)
        defer { H5Sclose(space) }
        let a = lh5_acreate(handle.id, name, t, space)
        guard a >= 0 else { throw LatentError.internalFailure("cannot write attribute \(name) at \(path)", file: file) }
        defer { H5Aclose(a) }
        var v: Int8 = bool ? 1 : 0
        if H5Awrite(a, t, &v) < 0 { throw LatentError.internalFailure("cannot write attribute \(name)", file: file) }
    }

    /// anndata's `encoding-type` / `encoding-version` pair.
    func setEncoding(_ type: String, _ version: String) throws {
        try setAttribute("encoding-type", string: type)
        try setAttribute("encoding-version", string: version)
    }
}

final class H5Group: H5Object {
    /// Member names, in creation order where the file tracks it (h5py does), else by name.
    func memberNames() throws -> [String] {
        var list = lh5_names()
        defer { lh5_names_free(&list) }
        if lh5_list(handle.id, &list) < 0 { throw error("cannot list group members") }
        var out: [String] = []
        out.reserveCapacity(list.count)
        for i in 0..<list.count { out.append(String(cString: list.names[i]!)) }
        return out
    }

    enum MemberKind { case group, dataset, missing }

    func kind(of name: String) -> MemberKind {
        switch lh5_member_kind(handle.id, name) {
        case 0: .group
        case 1: .dataset
        default: .missing
        }
    }

    func group(_ name: String) throws -> H5Group {
        guard kind(of: name) == .group else {
            throw LatentError.badInput(file, handle.childPath(name), kind(of: name) == .missing ? "missing group" : "expected a group, found a dataset")
        }
        let id = lh5_gopen(handle.id, name)
        if id < 0 { throw LatentError.badInput(file, handle.childPath(name), "cannot open group") }
        return H5Group(H5Handle(id: id, path: handle.childPath(name), file: file, closer: H5Gclose))
    }

    func dataset(_ name: String) throws -> H5Dataset {
        guard kind(of: name) == .dataset else {
            throw LatentError.badInput(file, handle.childPath(name), kind(of: name) == .missing ? "missing dataset" : "expected a dataset, found a group")
        }
        let id = lh5_dopen(handle.id, name)
        if id < 0 { throw LatentError.badInput(file, handle.childPath(name), "cannot open dataset") }
        return H5Dataset(H5Handle(id: id, path: handle.childPath(name), file: file, closer: H5Dclose))
    }

    func createGroup(_ name: String) throws -> H5Group {
        let id = lh5_gcreate(handle.id, name)
        if id < 0 { throw LatentError.internalFailure("cannot create group \(handle.childPath(name))", file: file) }
        return H5Group(H5Handle(id: id, path: handle.childPath(name), file: file, closer: H5Gclose))
    }
}

final class H5Dataset: H5Object {
    var shape: [Int] {
        let space = H5Dget_space(handle.id)
        defer { H5Sclose(space) }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        if rank <= 0 { return [] }
        var dims = [hsize_t](repeating: 0, count: rank)
        H5Sget_simple_extent_dims(space, &dims, nil)
        return dims.map { Int($0) }
    }

    var elementCount: Int { shape.reduce(1, *) }

    /// A dataset with a null dataspace holds no value at all (h5py writes Python's None so, e.g.
    /// scanpy's `uns["log1p"]["base"]`); its rank reads as 0, like a scalar's, but reading it
    /// would return whatever the buffer held.
    var isNull: Bool {
        let space = H5Dget_space(handle.id)
        defer { H5Sclose(space) }
        return H5Sget_simple_extent_type(space) == H5S_NULL
    }

    var valueClass: H5ValueClass {
        let t = H5Dget_type(handle.id)
        defer { H5Tclose(t) }
        return classify(t)
    }

    /// A damaged header can claim absurd sizes; refuse before allocating rather than trap.
    private func checkFits<T>(_ count: Int, _ type: T.Type) throws {
        let physical = Double(sysconf(Int32(_SC_PHYS_PAGES))) * Double(sysconf(Int32(_SC_PAGESIZE)))
        let bytes = Double(count) * Double(MemoryLayout<T>.stride)
        if count < 0 || bytes > physical {
            throw error("claims \(count) elements (\(Int(bytes / 1e9)) GB), more than this machine's memory (damaged file?)")
        }
    }

    /// Reads the whole dataset converted to `memType` (HDF5 converts integer/float widths).
    private func read<T>(as memType: hid_t, count: Int, zero: T) throws -> [T] {
        if count == 0 { return [] }
        try checkFits(count, T.self)
        var failed = false
        let out = [T](unsafeUninitializedCapacity: count) { buf, n in
            adviseHugePages(UnsafeMutableRawPointer(buf.baseAddress!), bytes: count * MemoryLayout<T>.stride)
            failed = H5Dread(handle.id, memType, lh5_s_all(), lh5_s_all(), lh5_p_default(), buf.baseAddress) < 0
            if failed { buf.baseAddress!.initialize(repeating: zero, count: count) }
            n = count
        }
        if failed { throw error("cannot read data (damaged or truncated file?)") }
        return out
    }

    private func requireNumeric() throws {
        switch valueClass {
        case .integer, .float, .bool: return
        case .string: throw error("expected numbers, found strings")
        case .other(let s): throw error("expected numbers, found \(s)")
        }
    }

    func readFloats() throws -> [Float] {
        try requireNumeric()
        if valueClass == .bool { return try readBools().map { $0 ? 1 : 0 } }
        return try readFast(as: lh5_native_float(), fileType: lh5_ieee_f32le(), zero: Float(0))
    }

    /// The parallel chunk path when it applies, else H5Dread with type conversion.
    private func readFast<T>(as memType: hid_t, fileType: hid_t, zero: T) throws -> [T] {
        let count = elementCount
        if count == 0 { return [] }
        try checkFits(count, T.self)
        // One allocation either way: decide the path before allocating.
        guard canReadChunksInParallel(fileType: fileType) else { return try read(as: memType, count: count, zero: zero) }
        var fast = false
        var failure: Error? = nil
        let out = [T](unsafeUninitializedCapacity: count) { buf, n in
            adviseHugePages(UnsafeMutableRawPointer(buf.baseAddress!), bytes: count * MemoryLayout<T>.stride)
            do {
                fast = try readChunksInParallel(into: UnsafeMutableRawPointer(buf.baseAddress!), count: count,
                                                elementSize: MemoryLayout<T>.stride, fileType: fileType)
            } catch { failure = error }
            if !fast || failure != nil { buf.baseAddress!.initialize(repeating: zero, count: count) }
            n = count
        }
        if let failure { throw failure }
        return fast ? out : try read(as: memType, count: count, zero: zero)
    }
    func readDoubles() throws -> [Double] {
        try requireNumeric()
        if valueClass == .bool { return try readBools().map { $0 ? 1 : 0 } }
        return try read(as: lh5_native_double(), count: elementCount, zero: 0)
    }
    func readInt64s() throws -> [Int64] {
        try requireNumeric()
        return try readFast(as: lh5_native_int64(), fileType: lh5_std_i64le(), zero: Int64(0))
    }
    func readInt32s() throws -> [Int32] {
        try requireNumeric()
        return try readFast(as: lh5_native_int32(), fileType: lh5_std_i32le(), zero: Int32(0))
    }
    func readBools() throws -> [Bool] {
        let t = H5Dget_type(handle.id)
        defer { H5Tclose(t) }
        guard H5Tget_size(t) == 1 else {
            return try readInt64s().map { $0 != 0 }
        }
        let native = H5Tget_native_type(t, H5T_DIR_ASCEND)
        defer { H5Tclose(native) }
        let bytes: [UInt8] = try read(as: native, count: elementCount, zero: 0)
        return bytes.map { $0 != 0 }
    }
    func readStrings() throws -> [String] {
        try readStringValues(handle, isAttribute: false)
    }

    /// Reads elements [offset, offset+count) of a 1-D dataset into `dest`, converted to `memType`.
    func readSlice(offset: Int, count: Int, memType: hid_t, into dest: UnsafeMutableRawPointer) throws {
        if count == 0 { return }
        let fileSpace = H5Dget_space(handle.id)
        defer { H5Sclose(fileSpace) }
        var start = [hsize_t(offset)], cnt = [hsize_t(count)]
        H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &cnt, nil)
        let memSpace = H5Screate_simple(1, &cnt, nil)
        defer { H5Sclose(memSpace) }
        if H5Dread(handle.id, memType, memSpace, fileSpace, lh5_p_default(), dest) < 0 {
            throw error("cannot read data (damaged or truncated file?)")
        }
    }
}

// MARK: - shared helpers

/// Asks Linux for transparent huge pages on a large fresh buffer (as numpy does for its arrays):
/// filling 500 MB through 4 KiB pages costs more in page faults than the copy itself.
func adviseHugePages(_ p: UnsafeMutableRawPointer, bytes: Int) {
    #if os(Linux)
    guard bytes >= 4 << 20 else { return }
    let page = 4096
    let start = (Int(bitPattern: p) + page - 1) & ~(page - 1)
    let end = (Int(bitPattern: p) + bytes) & ~(page - 1)
    if end > start { _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, 14 /* MADV_HUGEPAGE */) }
    #endif
}

func classify(_ t: hid_t) -> H5ValueClass {
    switch H5Tget_class(t) {
    case H5T_INTEGER: return .integer(signed: H5Tget_sign(t) == H5T_SGN_2, size: Int(H5Tget_size(t)))
    case H5T_FLOAT: return .float(size: Int(H5Tget_size(t)))
    case H5T_STRING: return .string(variable: H5Tis_variable_str(t) > 0)
    case H5T_ENUM:
        // h5py's bool: an enum with members FALSE/TRUE over a 1-byte integer.
        if H5Tget_nmembers(t) == 2, H5Tget_size(t) == 1 { return .bool }
        return .other("an enum")
    case H5T_COMPOUND: return .other("a compound type (legacy AnnData < 0.7 layout?)")
    case H5T_REFERENCE: return .other("object references")
    default: return .other("an unsupported HDF5 type")
    }
}

func makeUTF8VariableStringType() -> hid_t {
    let t = H5Tcopy(lh5_c_s1())
    H5Tset_size(t, -1)  // H5T_VARIABLE, i.e. (size_t)-1; size_t imports as Int
    H5Tset_cset(t, H5T_CSET_UTF8)
    return t
}

func makeBoolType() -> hid_t {
    let t = H5Tenum_create(lh5_native_int8())
    var f: Int8 = 0, tr: Int8 = 1
    H5Tenum_insert(t, "FALSE", &f)
    H5Tenum_insert(t, "TRUE", &tr)
    return t
}

/// Runs `body` with a C array of pointers to NUL-terminated copies of `strings`.
func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    // One contiguous byte buffer holds every string; avoids an allocation per element.
    var total = 0
    for s in strings { total += s.utf8.count + 1 }
    var bytes = [CChar](repeating: 0, count: max(total, 1))
    var offsets = [Int]()
    offsets.reserveCapacity(strings.count)
    var pos = 0
    bytes.withUnsafeMutableBufferPointer { b in
        for s in strings {
            offsets.append(pos)
            for u in s.utf8 { b[pos] = CChar(bitPattern: u); pos += 1 }
            b[pos] = 0
            pos += 1
        }
    }
    return bytes.withUnsafeBufferPointer { b in
        let ptrs: [UnsafePointer<CChar>?] = offsets.map { UnsafePointer(b.baseAddress! + $0) }
        return ptrs.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

func elementCount(_ h: H5Handle, isAttribute: Bool) throws -> Int {
    let space = isAttribute ? H5Aget_space(h.id) : H5Dget_space(h.id)
    defer { H5Sclose(space) }
    let n = H5Sget_simple_extent_npoints(space)
    if n < 0 { throw h.error("cannot read dataspace") }
    return Int(n)
}

/// Reads every string of a dataset or attribute, variable- or fixed-length, as UTF-8.
func readStringValues(_ h: H5Handle, isAttribute: Bool) throws -> [String] {
    let ft = isAttribute ? H5Aget_type(h.id) : H5Dget_type(h.id)
    defer { H5Tclose(ft) }
    guard H5Tget_class(ft) == H5T_STRING else { throw h.error("expected strings") }
    let n = try elementCount(h, isAttribute: isAttribute)
    if n == 0 { return [] }
    let physical = Double(sysconf(Int32(_SC_PHYS_PAGES))) * Double(sysconf(Int32(_SC_PAGESIZE)))
    if Double(n) * 16 > physical { throw h.error("claims \(n) strings, more than this machine's memory (damaged file?)") }
    func doRead(_ mt: hid_t, _ buf: UnsafeMutableRawPointer) -> herr_t {
        isAttribute ? H5Aread(h.id, mt, buf) : H5Dread(h.id, mt, lh5_s_all(), lh5_s_all(), lh5_p_default(), buf)
    }
    if H5Tis_variable_str(ft) > 0 {
        // HDF5 will not convert between character sets, so read in the file's own (ASCII or UTF-8).
        let mt = makeUTF8VariableStringType()
        defer { H5Tclose(mt) }
        H5Tset_cset(mt, H5Tget_cset(ft))
        var ptrs = [UnsafeMutablePointer<CChar>?](repeating: nil, count: n)
        if doRead(mt, &ptrs) < 0 { throw h.error("cannot read strings") }
        var out = [String]()
        out.reserveCapacity(n)
        for p in ptrs { out.append(p.map { String(cString: $0) } ?? "") }
        // Free what HDF5 allocated for each string.
        let space = isAttribute ? H5Aget_space(h.id) : H5Dget_space(h.id)
        defer { H5Sclose(space) }
        H5Dvlen_reclaim(mt, space, lh5_p_default(), &ptrs)
        return out
    } else {
        let size = Int(H5Tget_size(ft))
        let mt = H5Tcopy(lh5_c_s1())
        defer { H5Tclose(mt) }
        H5Tset_size(mt, size)
        H5Tset_strpad(mt, H5T_STR_NULLPAD)
        H5Tset_cset(mt, H5Tget_cset(ft))
        var bytes = [UInt8](repeating: 0, count: n * size)
        if doRead(mt, &bytes) < 0 { throw h.error("cannot read strings") }
        var out = [String]()
        out.reserveCapacity(n)
        for i in 0..<n {
            var end = i * size
            while end < (i + 1) * size && bytes[end] != 0 { end += 1 }
            out.append(String(decoding: bytes[(i * size)..<end], as: UTF8.self))
        }
        return out
    }
}
