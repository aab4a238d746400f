import Foundation
import LatentCore

/// Where the shipped files (GeneSets/: GO, PROGENy and positional collections, ID maps) are.
///
/// Looked for, in order: `$LATENT_GENESETS` (a GeneSets directory), `$LATENT_DATA_DIR/GeneSets`,
/// the install prefix next to the binary (`BIN/../share/latent/GeneSets`, as `make install`
/// lays it out), the repository around the binary (`.build/release/latent` → `GeneSets/`), and
/// the source checkout the binary was built from. A directory counts when it holds the ID map
/// every copy ships with, so an empty or stray `GeneSets/` is passed over.
public enum Resources {
    static let marker = "gene_id_map_human.tsv.gz"

    /// Every place looked in, in order, with the reason it is there.
    public static func geneSetsCandidates() -> [(path: String, origin: String)] {
        var out: [(String, String)] = []
        let env = ProcessInfo.processInfo.environment
        if let d = env["LATENT_GENESETS"], !d.isEmpty { out.append((d, "$LATENT_GENESETS")) }
        if let d = env["LATENT_DATA_DIR"], !d.isEmpty { out.append((d + "/GeneSets", "$LATENT_DATA_DIR")) }
        let exe = URL(fileURLWithPath: executablePath()).resolvingSymlinksInPath()
        let bin = exe.deletingLastPathComponent()
        out.append((bin.deletingLastPathComponent().appendingPathComponent("share/latent/GeneSets").standardizedFileURL.path,
                    "installed beside the binary"))
        // A binary inside a checkout: .build/<triple>/release/latent or .build/release/latent.
        var dir = bin
        for _ in 0..<4 {
            out.append((dir.appendingPathComponent("GeneSets").standardizedFileURL.path, "checkout around the binary"))
            dir = dir.deletingLastPathComponent()
        }
        // Sources/LatentEnrich/Resources.swift → the repository root it was built from.
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        out.append((source.appendingPathComponent("GeneSets").standardizedFileURL.path, "source checkout"))
        var seen = Set<String>()
        return out.filter { seen.insert($0.0).inserted }
    }

    /// The first candidate that holds the shipped files, if any.
    public static func geneSetsDirectory() -> String? { geneSetsDirectory(in: geneSetsCandidates()) }

    static func geneSetsDirectory(in candidates: [(path: String, origin: String)]) -> String? {
        candidates.first { FileManager.default.fileExists(atPath: $0.path + "/" + marker) }?.path
    }

    /// A gene-set argument: a path, or the name of a shipped collection (`go_bp`, `progeny_top100`,
    /// …); the argument unchanged when it is neither (the reader then says it cannot open it).
    public static func geneSetPath(_ arg: String) -> String {
        (try? resolveGeneSets(arg)) ?? arg
    }

    /// A gene-set argument resolved to a file: an existing path, or a shipped collection. A name
    /// that is not found says every place it was looked for.
    public static func resolveGeneSets(_ arg: String) throws -> String {
        try resolveGeneSets(arg, candidates: geneSetsCandidates())
    }

    static func resolveGeneSets(_ arg: String, candidates: [(path: String, origin: String)]) throws -> String {
        if FileManager.default.fileExists(atPath: arg) { return arg }
        if let dir = geneSetsDirectory(in: candidates) {
            for candidate in [arg, arg + ".gmt"] where FileManager.default.fileExists(atPath: dir + "/" + candidate) {
                return dir + "/" + candidate
            }
        }
        // Something path-like is a missing file; the GMT reader reports it as such.
        if arg.contains("/") || arg.hasSuffix(".gmt") || arg.hasSuffix(".gz") || arg.hasSuffix(".tsv") || arg.hasSuffix(".txt") {
            return arg
        }
        throw LatentError.badInput(arg, nil, notFound(arg, candidates: candidates), hint: "give a GMT path, or set LATENT_GENESETS to a GeneSets directory (`make install` puts one in PREFIX/share/latent/GeneSets)")
    }

    /// "no file or shipped collection of that name; looked in …", naming each place and what it
    /// held (the collections of a directory that has them, so a typo is easy to see).
    static func notFound(_ name: String, candidates: [(path: String, origin: String)]) -> String {
        if let dir = geneSetsDirectory(in: candidates) {
            let shipped = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
                .filter { $0.hasSuffix(".gmt") }.map { String($0.dropLast(4)) }.sorted()
            return "no such file, and no shipped gene-set collection of that name in \(dir) (shipped: \(shipped.joined(separator: ", ")))"
        }
        let places = candidates.map { c -> String in
            let state = FileManager.default.fileExists(atPath: c.path) ? "no \(marker)" : "missing"
            return "\(c.path) [\(c.origin), \(state)]"
        }
        return "no such file, and the shipped gene sets were not found; looked in: " + places.joined(separator: "; ")
    }

    /// This process's executable: /proc/self/exe where there is one (argv[0] may be a bare name
    /// found on PATH), else argv[0].
    static func executablePath() -> String {
        if let p = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return p }
        return CommandLine.arguments.first ?? ""
    }
}
