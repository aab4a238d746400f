/// The one error type stages throw. It renders as the single stderr line users see:
/// `FILE:PLACE: what is wrong (what to do)`, and maps to the process exit code.
public struct LatentError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Sendable {
        /// The input file, table or flag is wrong: exit 2.
        case badInput
        /// A bug or an environment failure (disk full, library error): exit 1.
        case internalFailure
    }

    public var kind: Kind
    public var file: String?
    public var place: String?
    public var message: String
    public var hint: String?

    public init(_ kind: Kind = .badInput, file: String? = nil, place: String? = nil, _ message: String, hint: String? = nil) {
        self.kind = kind
        self.file = file
        self.place = place
        self.message = message
        self.hint = hint
    }

    public static func badInput(_ file: String?, _ place: String? = nil, _ message: String, hint: String? = nil) -> LatentError {
        LatentError(.badInput, file: file, place: place, message, hint: hint)
    }

    public static func internalFailure(_ message: String, file: String? = nil) -> LatentError {
        LatentError(.internalFailure, file: file, message)
    }

    /// The same error, attributed to `file` when it did not name one yet.
    public func inFile(_ path: String) -> LatentError {
        var e = self
        if e.file == nil { e.file = path }
        return e
    }

    public var exitCode: Int32 { kind == .badInput ? 2 : 1 }

    public var description: String {
        var s = ""
        if let file { s += file + ":" }
        if let place { s += place + ":" }
        if !s.isEmpty { s += " " }
        s += message
        if let hint { s += " (\(hint))" }
        return s
    }
}
