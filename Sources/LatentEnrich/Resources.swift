import Foundation

/// Where the shipped files (GeneSets/) are: `$LATENT_DATA_DIR`, else beside the executable's
/// repository checkout (`.build/<config>/latent` → the repository root), else the installed share dir.
public enum Resources {
    public static func geneSetsDirectory() -> String? {
        var candidates: [String] = []
        if let d = ProcessInfo.processInfo.environment["LATENT_DATA_DIR"] { candidates.append(d + "/GeneSets") }
        let exe = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        for _ in 0..<4 {
            candidates.append(dir.appendingPathComponent("GeneSets").path)
            candidates.append(dir.appendingPathComponent("share/latent/GeneSets").path)
            dir = dir.deletingLastPathComponent()
        }
        candidates.append(FileManager.default.currentDirectoryPath + "/GeneSets")
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/gene_id_map_human.tsv.gz") }
    }

    /// A gene-set argument: a path, or the name of a shipped collection (`go_bp`, `progeny_top100`, …).
    public static func geneSetPath(_ arg: String) -> String {
        if FileManager.default.fileExists(atPath: arg) { return arg }
        if let dir = geneSetsDirectory() {
            for candidate in [arg, arg + ".gmt"] where FileManager.default.fileExists(atPath: dir + "/" + candidate) {
                return dir + "/" + candidate
            }
        }
        return arg
    }
}
