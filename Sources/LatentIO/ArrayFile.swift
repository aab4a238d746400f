import LatentCore

/// A plain HDF5 file of named arrays and string attributes: how trained models are stored
/// (`model.h5`), readable with h5py as ordinary datasets.
///
/// Names with "/" create groups ("parameters/encoder.0.weight"). Float32 and Float64 arrays keep
/// their type; string arrays are variable-length UTF-8 as h5py writes them. Written atomically.
public struct ArrayFile: Sendable, Equatable {
    public enum Array: Sendable, Equatable {
        case float32([Float], shape: [Int])
        case float64([Double], shape: [Int])
        case strings([String])
    }

    /// Root attributes (format name, versions, configuration as JSON).
    public var attributes: [String: String] = [:]
    public private(set) var names: [String] = []
    private var arrays: [String: Array] = [:]

    public init() {}

    public subscript(name: String) -> Array? {
        get { arrays[name] }
        set {
            if arrays[name] == nil, newValue != nil { names.append(name) }
            if newValue == nil { names.removeAll { $0 == name } }
            arrays[name] = newValue
        }
    }

    public func floats(_ name: String, file: String) throws -> (values: [Float], shape: [Int]) {
        switch arrays[name] {
        case .float32(let v, let s): return (v, s)
        case .float64(let v, let s): return (v.map { Float($0) }, s)
        default: throw LatentError.badInput(file, "/" + name, "missing numeric dataset (not a model file written by this version?)")
        }
    }

    public func doubles(_ name: String, file: String) throws -> [Double] {
        switch arrays[name] {
        case .float32(let v, _): return v.map { Double($0) }
        case .float64(let v, _): return v
        default: throw LatentError.badInput(file, "/" + name, "missing numeric dataset (not a model file written by this version?)")
        }
    }

    public func strings(_ name: String, file: String) throws -> [String] {
        guard case .strings(let v) = arrays[name] else {
            throw LatentError.badInput(file, "/" + name, "missing string dataset (not a model file written by this version?)")
        }
        return v
    }

    public func write(to path: String, compression: Compression = Compression()) throws {
        try AtomicOutput.write(to: path) { tmp in
            let f = try H5File.create(tmp, displayName: path)
            let root = f.root
            for key in attributes.keys.sorted() { try root.setAttribute(key, string: attributes[key]!) }
            var groups: [String: H5Group] = [:]
            func group(_ path: [Substring]) throws -> H5Group {
                var g = root, key = ""
                for part in path {
                    key += "/" + part
                    if let existing = groups[key] { g = existing; continue }
                    g = g.kind(of: String(part)) == .group ? try g.group(String(part)) : try g.createGroup(String(part))
                    groups[key] = g
                }
                return g
            }
            for name in names {
                let parts = name.split(separator: "/")
                let g = try group(Swift.Array(parts.dropLast()))
                let leaf = String(parts.last!)
                switch arrays[name]! {
                case .float32(let v, let s): try g.writeArray(leaf, v, shape: s, compression: compression)
                case .float64(let v, let s): try g.writeArray(leaf, v, shape: s, compression: compression)
                case .strings(let v): try g.writeStrings(leaf, v, compression: compression)
                }
            }
            try f.flush()
        }
    }

    /// Reads every dataset, and the root attributes named in `attributeNames` that exist.
    public static func read(_ path: String, attributeNames: [String]) throws -> ArrayFile {
        try AtomicOutput.decoding(path) {
            let f = try H5File.open(path)
            var out = ArrayFile()
            let root = f.root
            for a in attributeNames { if let s = try root.stringAttribute(a) { out.attributes[a] = s } }
            func walk(_ g: H5Group, _ prefix: String) throws {
                for name in try g.memberNames() {
                    let full = prefix.isEmpty ? name : prefix + "/" + name
                    switch g.kind(of: name) {
                    case .group: try walk(try g.group(name), full)
                    case .dataset:
                        let d = try g.dataset(name)
                        switch d.valueClass {
                        case .string: out[full] = .strings(try d.readStrings())
                        case .float(size: 8): out[full] = .float64(try d.readDoubles(), shape: d.shape)
                        default: out[full] = .float32(try d.readFloats(), shape: d.shape)
                        }
                    case .missing: break
                    }
                }
            }
            try walk(root, "")
            return out
        }
    }
}
