import Foundation
import LatentCore
import LatentIO
import LatentModels

/// Every table of the page, as data: rendered in the HTML (sortable, filterable) and written as a
/// TSV beside it (`report.html` → `report_tables/NAME.tsv`), so nothing shown is locked in a page.
public struct ReportTable: Sendable {
    public enum Cell: Sendable {
        case text(String)
        case number(Double)
    }
    public var name: String
    public var title: String
    public var columns: [String]
    public var rows: [[Cell]]

    public var tsv: String {
        var out = columns.joined(separator: "\t") + "\n"
        for r in rows {
            out += r.map { c -> String in
                switch c {
                case .text(let s): s.replacingOccurrences(of: "\t", with: " ").replacingOccurrences(of: "\n", with: " ")
                case .number(let x): x.isNaN ? "NA" : x.isInfinite ? (x > 0 ? "inf" : "-inf") : x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : "\(x)"
                }
            }.joined(separator: "\t") + "\n"
        }
        return out
    }
}

extension Report {
    static func num(_ x: Double?) -> ReportTable.Cell { .number(x ?? .nan) }

    public func runsTable() -> ReportTable {
        ReportTable(name: "runs", title: "Runs found", columns: ["run", "model", "parameters", "seed", "cells", "genes", "latents", "active_latents", "files"],
                    rows: runs.map { r in
                        [.text(r.id), .text(r.model), .text(r.parameters), .text(r.seed), .number(Double(r.nCells)), .number(Double(r.nGenes)),
                         .number(Double(r.latentCount)), .number(Double(r.activeLatents.count)),
                         .text(r.files.map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: ", "))]
                    })
    }

    /// BioBombe's view beside the disentanglement scores: per run, how many latents have at least
    /// one significant gene set and how many distinct sets all latents cover together.
    public func comparisonTable(_ views: [[LatentView]]) -> ReportTable {
        let cols = ["run", "model", "parameters", "seed", "latents", "active_latents", "latents_with_significant_set", "distinct_significant_sets",
                    "planted_programs_recovered",
                    "mig", "dci_disentanglement", "dci_completeness", "dci_informativeness", "sap", "factorvae_score", "gaussian_tc",
                    "final_train_recon", "final_val_recon"]
        let rows: [[ReportTable.Cell]] = runs.enumerated().map { i, r in
            let sigLatents = views[i].filter { $0.significantSets > 0 }.count
            let distinct = Set(r.enrichment.filter { $0.padj < options.fdr }.map(\.geneSet)).count
            let hasEnrich = !r.enrichment.isEmpty
            return [.text(r.id), .text(r.model), .text(r.parameters), .text(r.seed), .number(Double(r.latentCount)), .number(Double(r.activeLatents.count)),
                    hasEnrich ? .number(Double(sigLatents)) : .number(.nan), hasEnrich ? .number(Double(distinct)) : .number(.nan),
                    hasEnrich && !r.plantedPrograms.isEmpty ? .number(Double(recovered(r, views[i]))) : .number(.nan),
                    Self.num(r.metric("mig")), Self.num(r.metric("dci_disentanglement")), Self.num(r.metric("dci_completeness")),
                    Self.num(r.metric("dci_informativeness")), Self.num(r.metric("sap")), Self.num(r.metric("factorvae_score")),
                    Self.num(r.metric("gaussian_tc") ?? Metrics.gaussianTotalCorrelation(r.activeLatents.map { r.scores[$0] })),
                    Self.num(r.history?.last("train_recon")), Self.num(r.history?.last("val_recon"))]
        }
        return ReportTable(name: "comparison", title: "Model comparison", columns: cols, rows: rows)
    }

    /// How many planted programs are some latent's top significant gene set (the simulation check:
    /// a disentangled model names each program on a latent of its own).
    public func recovered(_ r: Run, _ views: [LatentView]) -> Int {
        let planted = Set(r.plantedPrograms)
        return Set(views.compactMap { v in v.sets.first.flatMap { $0.padj < options.fdr && planted.contains($0.geneSet) ? $0.geneSet : nil } }).count
    }

    public func latentTable(_ views: [[LatentView]]) -> ReportTable {
        var rows: [[ReportTable.Cell]] = []
        for (i, r) in runs.enumerated() {
            for v in views[i] {
                let top = v.sets.first
                let best = v.correlations.max { abs($0.value) < abs($1.value) }
                rows.append([.text(r.id), .number(Double(v.index)), .text(v.active ? "yes" : "no"), .number(v.variance), Self.num(v.kl),
                             .text(v.up.prefix(3).map(\.gene).joined(separator: ", ")), .text(v.down.prefix(3).map(\.gene).joined(separator: ", ")),
                             .text(top?.geneSet ?? ""), .text(top?.direction ?? ""), Self.num(top?.nes), Self.num(top?.padj),
                             .number(Double(v.significantSets)), .text(best?.covariate ?? ""), Self.num(best?.value)])
            }
        }
        return ReportTable(name: "latents", title: "Latents", columns: ["run", "latent", "active", "variance", "kl", "top_genes_up", "top_genes_down",
                                                                        "top_set", "top_set_direction", "top_set_nes", "top_set_fdr", "significant_sets",
                                                                        "strongest_covariate", "strongest_correlation"], rows: rows)
    }

    public func genesTable(_ views: [[LatentView]]) -> ReportTable {
        var rows: [[ReportTable.Cell]] = []
        for (i, r) in runs.enumerated() {
            for v in views[i] {
                for (rank, g) in v.up.enumerated() { rows.append([.text(r.id), .number(Double(v.index)), .text("positive"), .number(Double(rank + 1)), .text(g.gene), .number(g.loading)]) }
                for (rank, g) in v.down.enumerated() { rows.append([.text(r.id), .number(Double(v.index)), .text("negative"), .number(Double(rank + 1)), .text(g.gene), .number(g.loading)]) }
            }
        }
        return ReportTable(name: "top_genes", title: "Top genes per latent", columns: ["run", "latent", "sign", "rank", "gene", "loading"], rows: rows)
    }

    public func setsTable(_ views: [[LatentView]]) -> ReportTable {
        var rows: [[ReportTable.Cell]] = []
        for (i, r) in runs.enumerated() {
            for v in views[i] {
                for s in v.sets { rows.append([.text(r.id), .number(Double(v.index)), .text(s.geneSet), .text(s.direction), .number(Double(s.size)), .number(s.nes), .number(s.pval), .number(s.padj)]) }
            }
        }
        return ReportTable(name: "top_gene_sets", title: "Top gene sets per latent", columns: ["run", "latent", "gene_set", "direction", "size", "nes", "pval", "fdr"], rows: rows)
    }

    public func correlationTable(_ views: [[LatentView]]) -> ReportTable {
        var rows: [[ReportTable.Cell]] = []
        for (i, r) in runs.enumerated() {
            for v in views[i] { for c in v.correlations { rows.append([.text(r.id), .number(Double(v.index)), .text(c.covariate), .text(c.measure), .number(c.value)]) } }
        }
        return ReportTable(name: "covariates", title: "Latents and obs covariates", columns: ["run", "latent", "covariate", "measure", "value"], rows: rows)
    }

    /// The VAE runs' reconstruction at the last epoch against β.
    public func sweepTable() -> ReportTable {
        let rows: [[ReportTable.Cell]] = runs.filter { $0.vae != nil }.map { r in
            [.text(r.id), .text(r.vae?.objective ?? ""), Self.num(r.vae?.beta), Self.num(r.vae?.gamma), .text(r.seed), Self.num(r.history?.last("epoch")),
             Self.num(r.history?.last("train_recon")), Self.num(r.history?.last("val_recon")), Self.num(r.history?.last("train_kl")),
             .number(Double(r.activeLatents.count)), Self.num(r.metric("mig"))]
        }
        return ReportTable(name: "sweep", title: "β sweep", columns: ["run", "objective", "beta", "gamma", "seed", "epochs", "train_recon", "val_recon", "train_kl", "active_latents", "mig"], rows: rows)
    }

    /// Metrics across seeds (Metrics.summary over every run's metrics rows).
    public func seedsTable() -> ReportTable? {
        let tables = runs.map(\.metrics).filter { !$0.isEmpty }
        // only worth a section when some model was run with more than one seed
        var counts: [String: Int] = [:]
        for t in tables { if let r = t.first?.run { counts[r.model + "\t" + r.parameters, default: 0] += 1 } }
        guard counts.values.contains(where: { $0 > 1 }) else { return nil }
        let parsed = Self.table(Metrics.summary(tables))
        guard let header = parsed.first else { return nil }
        let rows: [[ReportTable.Cell]] = parsed.dropFirst().filter { $0.count == header.count && $0[3] == "all" }.map { r in
            r.enumerated().map { j, s in (4...8).contains(j) ? .number(Self.value(s)) : .text(s) }
        }
        return ReportTable(name: "metrics_across_seeds", title: "Metrics across seeds", columns: header, rows: rows)
    }

    /// The tables in page order.
    public func tables(_ views: [[LatentView]]) -> [ReportTable] {
        var t = [runsTable(), comparisonTable(views), latentTable(views), genesTable(views), setsTable(views), correlationTable(views)]
        if runs.contains(where: { $0.vae != nil }) { t.append(sweepTable()) }
        if let s = seedsTable() { t.append(s) }
        if let i = integrationTable() { t.append(i) }
        if let s = subspaceTable() { t.append(s) }
        if let c = consensusTable() { t.append(c) }
        if let d = differentialTable() { t.append(d) }
        return t
    }

    /// `report.html` → `report_tables/`; written to a temporary directory renamed into place.
    public static func tablesDirectory(for html: String) -> String {
        let u = URL(fileURLWithPath: html)
        let stem = u.deletingPathExtension().lastPathComponent
        return u.deletingLastPathComponent().appendingPathComponent(stem + "_tables").path
    }

    public static func writeTables(_ tables: [ReportTable], to dir: String) throws {
        let parent = URL(fileURLWithPath: dir).deletingLastPathComponent().path
        let tmp = parent + "/." + URL(fileURLWithPath: dir).lastPathComponent + ".tmp-\(getpid())"
        let fm = FileManager.default
        try? fm.removeItem(atPath: tmp)
        do {
            try fm.createDirectory(atPath: tmp, withIntermediateDirectories: false)
            for t in tables {
                guard fm.createFile(atPath: tmp + "/" + t.name + ".tsv", contents: Data(t.tsv.utf8)) else {
                    throw LatentError(.internalFailure, file: dir, "cannot write \(t.name).tsv")
                }
            }
            // replace an older directory as a whole
            let old = parent + "/." + URL(fileURLWithPath: dir).lastPathComponent + ".old-\(getpid())"
            if fm.fileExists(atPath: dir) { try fm.moveItem(atPath: dir, toPath: old) }
            try fm.moveItem(atPath: tmp, toPath: dir)
            try? fm.removeItem(atPath: old)
        } catch let e as LatentError {
            try? fm.removeItem(atPath: tmp)
            throw e
        } catch {
            try? fm.removeItem(atPath: tmp)
            throw LatentError(.internalFailure, file: dir, "cannot write the tables: \(error.localizedDescription)")
        }
    }
}
