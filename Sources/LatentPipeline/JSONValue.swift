import Foundation

/// A parameter or manifest value with exact types: an integer stays an integer, so `k: 10` and
/// `k: 10.0` on a Double parameter canonicalise to the same bytes, while on an Int parameter
/// only the integer is accepted.
public enum JSONValue: Sendable, Equatable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Canonical JSON: keys sorted by their UTF-8 bytes, no whitespace, integers without a point,
    /// doubles in Swift's shortest round-trip form, strings escaped minimally. Two equal values
    /// always give the same bytes, which is what the cache keys hash.
    public var canonical: String {
        var s = ""
        write(into: &s, pretty: false, indent: 0)
        return s
    }

    /// The same, indented for files people read (manifests).
    public var pretty: String {
        var s = ""
        write(into: &s, pretty: true, indent: 0)
        return s + "\n"
    }

    private func write(into s: inout String, pretty: Bool, indent: Int) {
        switch self {
        case .null: s += "null"
        case .bool(let b): s += b ? "true" : "false"
        case .int(let i): s += String(i)
        case .double(let d): s += JSONValue.format(d)
        case .string(let t): JSONValue.escape(t, into: &s)
        case .array(let a):
            if a.isEmpty { s += "[]"; return }
            s += "["
            for (i, v) in a.enumerated() {
                if i > 0 { s += "," }
                if pretty { s += "\n" + String(repeating: "  ", count: indent + 1) }
                v.write(into: &s, pretty: pretty, indent: indent + 1)
            }
            if pretty { s += "\n" + String(repeating: "  ", count: indent) }
            s += "]"
        case .object(let o):
            if o.isEmpty { s += "{}"; return }
            s += "{"
            for (i, k) in o.keys.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }).enumerated() {
                if i > 0 { s += "," }
                if pretty { s += "\n" + String(repeating: "  ", count: indent + 1) }
                JSONValue.escape(k, into: &s)
                s += pretty ? ": " : ":"
                o[k]!.write(into: &s, pretty: pretty, indent: indent + 1)
            }
            if pretty { s += "\n" + String(repeating: "  ", count: indent) }
            s += "}"
        }
    }

    /// Shortest text that reads back as the same Double; non-finite values (never valid
    /// parameters) as strings so the output stays JSON.
    static func format(_ d: Double) -> String {
        if d.isNaN { return "\"NaN\"" }
        if d.isInfinite { return d > 0 ? "\"Infinity\"" : "\"-Infinity\"" }
        if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
        return "\(d)"
    }

    static func escape(_ t: String, into s: inout String) {
        s += "\""
        for u in t.unicodeScalars {
            switch u {
            case "\"": s += "\\\""
            case "\\": s += "\\\\"
            case "\n": s += "\\n"
            case "\r": s += "\\r"
            case "\t": s += "\\t"
            default:
                if u.value < 0x20 { s += String(format: "\\u%04x", u.value) } else { s.unicodeScalars.append(u) }
            }
        }
        s += "\""
    }

    /// The value as a grid label or a file-name part: strings bare, everything else as JSON.
    public var label: String {
        switch self {
        case .string(let t): return t
        case .array(let a): return a.map(\.label).joined(separator: "-")
        // `beta: [1, 4]` on a Double parameter reads as beta=1, not beta=1.0.
        case .double(let d) where d.rounded() == d && abs(d) < 1e15: return String(Int64(d))
        default: return canonical
        }
    }

    // MARK: reading manifests back

    /// Parses JSON text. Our own small parser rather than JSONSerialization, whose NSNumber
    /// results do not say reliably on Linux whether `1` was an integer, a double or a boolean.
    public static func parse(_ data: Data) throws -> JSONValue {
        var p = JSONParser(bytes: Array(data))
        p.skipSpace()
        let v = try p.value()
        p.skipSpace()
        guard p.i == p.bytes.count else { throw p.fail("trailing characters") }
        return v
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var intValue: Int64? { if case .int(let i) = self { return i }; return nil }
    public var doubleValue: Double? {
        switch self {
        case .double(let d): return d
        case .int(let i): return Double(i)
        default: return nil
        }
    }
    public var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    public var objectValue: [String: JSONValue]? { if case .object(let o) = self { return o }; return nil }
}

struct JSONParser {
    let bytes: [UInt8]
    var i = 0

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    func fail(_ what: String) -> Failure { Failure(description: "invalid JSON at byte \(i): \(what)") }

    mutating func skipSpace() {
        while i < bytes.count, [0x20, 0x09, 0x0a, 0x0d].contains(bytes[i]) { i += 1 }
    }

    mutating func literal(_ word: String, _ v: JSONValue) throws -> JSONValue {
        let w = Array(word.utf8)
        guard i + w.count <= bytes.count, Array(bytes[i..<(i + w.count)]) == w else { throw fail("expected \(word)") }
        i += w.count
        return v
    }

    mutating func value() throws -> JSONValue {
        guard i < bytes.count else { throw fail("unexpected end") }
        switch bytes[i] {
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "["):
            i += 1
            var a: [JSONValue] = []
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
            while true {
                skipSpace()
                a.append(try value())
                skipSpace()
                guard i < bytes.count else { throw fail("unterminated array") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
                throw fail("expected , or ]")
            }
        case UInt8(ascii: "{"):
            i += 1
            var o: [String: JSONValue] = [:]
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(o) }
            while true {
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a key") }
                let k = try string()
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected :") }
                i += 1
                skipSpace()
                o[k] = try value()
                skipSpace()
                guard i < bytes.count else { throw fail("unterminated object") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(o) }
                throw fail("expected , or }")
            }
        default:
            let start = i
            var isDouble = false
            while i < bytes.count, let c = Optional(bytes[i]),
                  (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+") || c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") { isDouble = true }
                i += 1
            }
            let text = String(decoding: bytes[start..<i], as: UTF8.self)
            if !isDouble, let v = Int64(text) { return .int(v) }
            if let d = Double(text) { return .double(d) }
            throw fail("bad number '\(text)'")
        }
    }

    mutating func string() throws -> String {
        i += 1
        var out = [UInt8]()
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") { i += 1; return String(decoding: out, as: UTF8.self) }
            if c == UInt8(ascii: "\\") {
                i += 1
                guard i < bytes.count else { break }
                let e = bytes[i]
                switch e {
                case UInt8(ascii: "n"): out.append(0x0a)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0d)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0c)
                case UInt8(ascii: "u"):
                    guard i + 4 < bytes.count, let code = UInt32(String(decoding: bytes[(i + 1)...(i + 4)], as: UTF8.self), radix: 16) else {
                        throw fail("bad \\u escape")
                    }
                    i += 4
                    out += Array(String(Unicode.Scalar(code).map(Character.init) ?? "\u{FFFD}").utf8)
                default: out.append(e)
                }
                i += 1
                continue
            }
            out.append(c)
            i += 1
        }
        throw fail("unterminated string")
    }
}
