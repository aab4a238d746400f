import Foundation

/// Hand-written SVG charts for the report: no dependencies, no network, readable when printed.
/// Every chart is a complete `<svg>` element with a `viewBox`, so it scales with the page; text
/// is escaped; colours come from one palette that stays distinguishable for colour-blind readers
/// (Okabe–Ito), with a blue–white–red ramp for signed values.
public enum SVG {
    public static let palette = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// The width of a 10-px label, estimated per character (capitals and digits are wider), so
    /// that long gene-set names are not clipped at the chart's edge.
    public static func textWidth(_ s: String, size: Double = 10) -> Double {
        var w = 0.0
        for c in s {
            if c.isUppercase || c.isNumber || c == "_" { w += 0.66 } else if c == " " || c == "." || c == "," { w += 0.3 } else { w += 0.55 }
        }
        return w * size
    }

    static func f(_ x: Double) -> String {
        guard x.isFinite else { return "0" }
        let r = (x * 100).rounded() / 100
        return r == r.rounded() ? String(Int(r)) : String(r)
    }

    /// A short label for a tick or value: 3 significant digits, no exponent for ordinary numbers.
    public static func label(_ x: Double) -> String {
        guard x.isFinite else { return x.isNaN ? "NA" : (x > 0 ? "∞" : "−∞") }
        if x == 0 { return "0" }
        let a = abs(x)
        if a >= 1e5 || a < 1e-3 { return String(format: "%.2g", x) }
        var s = String(format: a >= 100 ? "%.0f" : a >= 10 ? "%.1f" : a >= 1 ? "%.2f" : "%.3f", x)
        if s.contains(".") { while s.hasSuffix("0") { s.removeLast() }; if s.hasSuffix(".") { s.removeLast() } }
        return s
    }

    /// About `count` round tick values covering lo...hi (1, 2, 5 × 10^k steps).
    public static func ticks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
        guard lo.isFinite, hi.isFinite else { return [] }
        if hi <= lo { return [lo] }
        let raw = (hi - lo) / Double(max(count, 1))
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        var t = (lo / step).rounded(.up) * step
        var out: [Double] = []
        while t <= hi + step * 1e-9 { out.append(abs(t) < step * 1e-9 ? 0 : t); t += step }
        return out
    }

    /// Blue (−1) → white (0) → red (+1).
    public static func diverging(_ v: Double) -> String {
        let t = max(-1, min(1, v.isFinite ? v : 0))
        let (r, g, b): (Double, Double, Double) = t >= 0
            ? (255 - t * (255 - 178), 255 - t * (255 - 24), 255 - t * (255 - 43))
            : (255 + t * (255 - 33), 255 + t * (255 - 102), 255 + t * (255 - 172))
        return String(format: "#%02x%02x%02x", Int(r), Int(g), Int(b))
    }

    /// White (0) → dark blue (1).
    public static func sequential(_ v: Double) -> String {
        let t = max(0, min(1, v.isFinite ? v : 0))
        return String(format: "#%02x%02x%02x", Int(247 - t * (247 - 8)), Int(251 - t * (251 - 48)), Int(255 - t * (255 - 107)))
    }

    struct Frame {
        var width: Double, height: Double
        var left: Double, right: Double, top: Double, bottom: Double
        var x0: Double, x1: Double, y0: Double, y1: Double
        var plotW: Double { width - left - right }
        var plotH: Double { height - top - bottom }
        func x(_ v: Double) -> Double { left + (x1 > x0 ? (v - x0) / (x1 - x0) : 0.5) * plotW }
        func y(_ v: Double) -> Double { top + plotH - (y1 > y0 ? (v - y0) / (y1 - y0) : 0.5) * plotH }
    }

    static func open(_ w: Double, _ h: Double, title: String) -> String {
        "<svg viewBox=\"0 0 \(f(w)) \(f(h))\" width=\"\(f(w))\" height=\"\(f(h))\" role=\"img\" class=\"chart\">"
            + "<title>\(escape(title))</title>"
    }

    static func axes(_ fr: Frame, xLabel: String, yLabel: String, xTicks: [Double]? = nil,
                     xTickText: (Double) -> String = { label($0) }) -> String {
        var s = ""
        let yt = ticks(fr.y0, fr.y1, count: 4)
        for t in yt {
            let y = fr.y(t)
            s += "<line x1=\"\(f(fr.left))\" x2=\"\(f(fr.width - fr.right))\" y1=\"\(f(y))\" y2=\"\(f(y))\" class=\"grid\"/>"
            s += "<text x=\"\(f(fr.left - 4))\" y=\"\(f(y + 3))\" text-anchor=\"end\" class=\"tick\">\(escape(label(t)))</text>"
        }
        for t in xTicks ?? ticks(fr.x0, fr.x1, count: 5) {
            let x = fr.x(t)
            s += "<line x1=\"\(f(x))\" x2=\"\(f(x))\" y1=\"\(f(fr.top + fr.plotH))\" y2=\"\(f(fr.top + fr.plotH + 4))\" class=\"axis\"/>"
            s += "<text x=\"\(f(x))\" y=\"\(f(fr.top + fr.plotH + 15))\" text-anchor=\"middle\" class=\"tick\">\(escape(xTickText(t)))</text>"
        }
        s += "<line x1=\"\(f(fr.left))\" x2=\"\(f(fr.width - fr.right))\" y1=\"\(f(fr.top + fr.plotH))\" y2=\"\(f(fr.top + fr.plotH))\" class=\"axis\"/>"
        s += "<line x1=\"\(f(fr.left))\" x2=\"\(f(fr.left))\" y1=\"\(f(fr.top))\" y2=\"\(f(fr.top + fr.plotH))\" class=\"axis\"/>"
        s += "<text x=\"\(f(fr.left + fr.plotW / 2))\" y=\"\(f(fr.height - 4))\" text-anchor=\"middle\" class=\"label\">\(escape(xLabel))</text>"
        s += "<text transform=\"translate(12,\(f(fr.top + fr.plotH / 2))) rotate(-90)\" text-anchor=\"middle\" class=\"label\">\(escape(yLabel))</text>"
        return s
    }

    static func legend(_ names: [String], x: Double, y: Double, colors: [String]? = nil) -> String {
        var s = ""
        var cx = x
        for (i, n) in names.enumerated() {
            let c = colors?[i] ?? palette[i % palette.count]
            s += "<rect x=\"\(f(cx))\" y=\"\(f(y - 8))\" width=\"10\" height=\"10\" fill=\"\(c)\"/>"
            s += "<text x=\"\(f(cx + 14))\" y=\"\(f(y + 1))\" class=\"tick\">\(escape(n))</text>"
            cx += 22 + Double(n.count) * 6.2
        }
        return s
    }

    public struct Series {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public var dashed: Bool
        /// palette index; by default the series' position
        public var color: Int?
        public init(name: String, points: [(x: Double, y: Double)], dashed: Bool = false, color: Int? = nil) {
            self.name = name
            self.points = points
            self.dashed = dashed
            self.color = color
        }
    }

    /// Lines over a shared x axis (training curves, a metric against β). NaN points break a line.
    public static func lineChart(_ series: [Series], title: String, xLabel: String, yLabel: String,
                                 width: Double = 520, height: Double = 260, markers: Bool = false, logX: Bool = false) -> String {
        let tx: (Double) -> Double = logX ? { log2($0) } : { $0 }
        let pts = series.flatMap { $0.points }.filter { $0.x.isFinite && $0.y.isFinite && (!logX || $0.x > 0) }
        guard !pts.isEmpty else { return "" }
        var (ylo, yhi) = (pts.map(\.y).min()!, pts.map(\.y).max()!)
        if ylo == yhi { ylo -= 0.5; yhi += 0.5 }
        let pad = (yhi - ylo) * 0.05
        let xs = pts.map { tx($0.x) }
        let fr = Frame(width: width, height: height, left: 52, right: 12, top: 26, bottom: 34,
                       x0: xs.min()!, x1: xs.max()!, y0: ylo - pad, y1: yhi + pad)
        var s = open(width, height, title: title)
        let xticks: [Double]? = logX ? Array(Set(pts.map { $0.x })).sorted().map(tx) : nil
        s += axes(fr, xLabel: xLabel, yLabel: yLabel, xTicks: xticks, xTickText: logX ? { label(pow(2, $0)) } : { label($0) })
        for (i, se) in series.enumerated() {
            let c = palette[(se.color ?? i) % palette.count]
            var d = ""
            var pen = false
            for p in se.points {
                guard p.x.isFinite, p.y.isFinite, !logX || p.x > 0 else { pen = false; continue }
                d += (pen ? "L" : "M") + "\(f(fr.x(tx(p.x)))),\(f(fr.y(p.y)))"
                pen = true
            }
            s += "<path d=\"\(d)\" fill=\"none\" stroke=\"\(c)\" stroke-width=\"1.8\"\(se.dashed ? " stroke-dasharray=\"5,3\"" : "")/>"
            if markers || se.points.count == 1 {
                for p in se.points where p.x.isFinite && p.y.isFinite && (!logX || p.x > 0) {
                    s += "<circle cx=\"\(f(fr.x(tx(p.x))))\" cy=\"\(f(fr.y(p.y)))\" r=\"3\" fill=\"\(c)\"><title>\(escape(se.name)): \(label(p.x)), \(label(p.y))</title></circle>"
                }
            }
        }
        s += "<text x=\"\(f(fr.left))\" y=\"14\" class=\"label\" font-weight=\"600\">\(escape(title))</text>"
        // one legend entry per colour (a dashed twin shares its solid series' colour)
        var seen = Set<Int>(), names: [String] = [], colors: [String] = []
        for (i, se) in series.enumerated() where seen.insert(se.color ?? i).inserted {
            names.append(se.name); colors.append(palette[(se.color ?? i) % palette.count])
        }
        s += legend(names, x: fr.left + 14 + 6.6 * Double(title.count), y: 14, colors: colors)
        return s + "</svg>"
    }

    /// Horizontal bars, one per label, signed values coloured by sign (top genes, correlations).
    public static func barChart(_ bars: [(label: String, value: Double)], title: String, valueLabel: String,
                                width: Double = 420, symmetric: Bool = true, maximum: Double? = nil) -> String {
        guard !bars.isEmpty else { return "" }
        let rowH = 15.0
        let labelW = min(220, 16 + (bars.map { textWidth($0.label) }.max() ?? 24))
        let height = 30 + rowH * Double(bars.count) + 24
        // a fixed maximum puts charts of the same measure on one scale
        let m = maximum ?? bars.map { abs($0.value) }.filter(\.isFinite).max() ?? 1
        let lo = symmetric || bars.contains { $0.value < 0 } ? -max(m, 1e-12) : 0
        let fr = Frame(width: width, height: height, left: labelW, right: 14, top: 22, bottom: 30,
                       x0: lo, x1: max(m, 1e-12), y0: 0, y1: 1)
        var s = open(width, height, title: title)
        s += "<text x=\"\(f(fr.left))\" y=\"13\" class=\"label\">\(escape(title))</text>"
        for t in ticks(fr.x0, fr.x1, count: 4) {
            let x = fr.x(t)
            s += "<line x1=\"\(f(x))\" x2=\"\(f(x))\" y1=\"\(f(fr.top))\" y2=\"\(f(fr.top + fr.plotH))\" class=\"grid\"/>"
            s += "<text x=\"\(f(x))\" y=\"\(f(fr.top + fr.plotH + 13))\" text-anchor=\"middle\" class=\"tick\">\(escape(label(t)))</text>"
        }
        let zero = fr.x(0)
        for (i, b) in bars.enumerated() {
            let y = fr.top + Double(i) * rowH
            let v = b.value.isFinite ? b.value : 0
            let x = fr.x(v)
            s += "<rect x=\"\(f(min(x, zero)))\" y=\"\(f(y + 2))\" width=\"\(f(max(abs(x - zero), 0.5)))\" height=\"\(f(rowH - 4))\" fill=\"\(v >= 0 ? "#D55E00" : "#0072B2")\"><title>\(escape(b.label)): \(label(b.value))</title></rect>"
            s += "<text x=\"\(f(fr.left - 4))\" y=\"\(f(y + rowH - 4))\" text-anchor=\"end\" class=\"tick\">\(escape(b.label))</text>"
        }
        s += "<line x1=\"\(f(zero))\" x2=\"\(f(zero))\" y1=\"\(f(fr.top))\" y2=\"\(f(fr.top + fr.plotH))\" class=\"axis\"/>"
        s += "<text x=\"\(f(fr.left + fr.plotW / 2))\" y=\"\(f(height - 3))\" text-anchor=\"middle\" class=\"label\">\(escape(valueLabel))</text>"
        return s + "</svg>"
    }

    public struct Dot {
        public var label: String, x: Double, size: Double, color: Double, note: String
        public init(label: String, x: Double, size: Double, color: Double, note: String) {
            self.label = label; self.x = x; self.size = size; self.color = color; self.note = note
        }
    }

    /// Enrichment dot plot: one row per gene set, x = NES, dot area ∝ set size, colour = −log10 FDR
    /// (darker = more significant, capped at `colorMax`).
    public static func dotPlot(_ dots: [Dot], title: String, xLabel: String, colorMax: Double = 10, width: Double = 600) -> String {
        guard !dots.isEmpty else { return "" }
        let rowH = 17.0
        let labelW = min(340, 16 + (dots.map { textWidth($0.label) }.max() ?? 24))
        let width = max(width, labelW + 240)
        let height = 34 + rowH * Double(dots.count) + 30
        let xs = dots.map(\.x).filter(\.isFinite)
        // from 0 (or the smallest NES) to the largest, so one-signed results use the whole width
        let lo = min(0, xs.min() ?? 0), hi = max(0, xs.max() ?? 0)
        let pad = max(hi - lo, 1) * 0.08
        let fr = Frame(width: width, height: height, left: labelW, right: 20, top: 24, bottom: 34, x0: lo - pad, x1: hi + pad, y0: 0, y1: 1)
        var s = open(width, height, title: title)
        s += "<text x=\"\(f(fr.left))\" y=\"13\" class=\"label\">\(escape(title))</text>"
        for t in ticks(fr.x0, fr.x1, count: 4) {
            let x = fr.x(t)
            s += "<line x1=\"\(f(x))\" x2=\"\(f(x))\" y1=\"\(f(fr.top))\" y2=\"\(f(fr.top + fr.plotH))\" class=\"grid\"/>"
            s += "<text x=\"\(f(x))\" y=\"\(f(fr.top + fr.plotH + 13))\" text-anchor=\"middle\" class=\"tick\">\(escape(label(t)))</text>"
        }
        let maxSize = dots.map(\.size).max() ?? 1
        for (i, d) in dots.enumerated() {
            let y = fr.top + (Double(i) + 0.5) * rowH
            let r = 2.5 + 5.5 * (maxSize > 0 ? (d.size / maxSize).squareRoot() : 0.5)
            s += "<line x1=\"\(f(fr.left))\" x2=\"\(f(fr.width - fr.right))\" y1=\"\(f(y))\" y2=\"\(f(y))\" class=\"grid\"/>"
            s += "<circle cx=\"\(f(fr.x(d.x.isFinite ? d.x : 0)))\" cy=\"\(f(y))\" r=\"\(f(r))\" fill=\"\(sequential(0.15 + 0.85 * min(1, d.color / colorMax)))\" stroke=\"#333\" stroke-width=\"0.6\"><title>\(escape(d.note))</title></circle>"
            s += "<text x=\"\(f(fr.left - 4))\" y=\"\(f(y + 4))\" text-anchor=\"end\" class=\"tick\">\(escape(d.label))</text>"
        }
        s += "<line x1=\"\(f(fr.x(0)))\" x2=\"\(f(fr.x(0)))\" y1=\"\(f(fr.top))\" y2=\"\(f(fr.top + fr.plotH))\" class=\"axis\"/>"
        s += "<text x=\"\(f(fr.left + fr.plotW / 2))\" y=\"\(f(height - 3))\" text-anchor=\"middle\" class=\"label\">\(escape(xLabel)) · size: genes in set · darker: smaller FDR</text>"
        return s + "</svg>"
    }

    /// A matrix of coloured cells with row and column labels (traversals, latent × covariate).
    /// `diverging`: values scaled by the largest |value| onto blue–white–red; else 0…max onto white–blue.
    public static func heatmap(rows: [String], columns: [String], values: [[Double]], title: String,
                               diverging isDiverging: Bool = true, cell: Double = 22, columnTitle: String = "",
                               minimumScale: Double = 0) -> String {
        guard !rows.isEmpty, !columns.isEmpty else { return "" }
        let labelW = min(220, 14 + (rows.map { textWidth($0) }.max() ?? 24))
        let colH = min(170, 16 + 0.87 * (columns.map { textWidth($0) }.max() ?? 12))
        let cw = max(12, min(cell, 520 / Double(columns.count)))
        let width = labelW + cw * Double(columns.count) + 70
        let height = 22 + colH + 15 * Double(rows.count) + 24
        // minimumScale keeps weak values pale when nothing stronger is on the map
        let m = max(minimumScale, values.flatMap { $0 }.filter(\.isFinite).map(abs).max() ?? 1)
        var s = open(width, height, title: title)
        s += "<text x=\"4\" y=\"13\" class=\"label\">\(escape(title))</text>"
        let top = 22 + colH
        for (j, c) in columns.enumerated() {
            let x = labelW + (Double(j) + 0.5) * cw
            s += "<text transform=\"translate(\(f(x + 3)),\(f(top - 4))) rotate(-60)\" class=\"tick\">\(escape(c))</text>"
        }
        for (i, r) in rows.enumerated() {
            let y = top + Double(i) * 15
            s += "<text x=\"\(f(labelW - 4))\" y=\"\(f(y + 11))\" text-anchor=\"end\" class=\"tick\">\(escape(r))</text>"
            for j in columns.indices {
                let v = values[i][j]
                let fill = isDiverging ? diverging(m > 0 ? v / m : 0) : sequential(m > 0 ? v / m : 0)
                s += "<rect x=\"\(f(labelW + Double(j) * cw))\" y=\"\(f(y))\" width=\"\(f(cw - 1))\" height=\"14\" fill=\"\(fill)\"><title>\(escape(r)) · \(escape(columns[j])): \(label(v))</title></rect>"
            }
        }
        // colour key
        let kx = labelW + cw * Double(columns.count) + 12
        for t in 0..<10 {
            let v = isDiverging ? 1 - 2 * Double(t) / 9 : 1 - Double(t) / 9
            s += "<rect x=\"\(f(kx))\" y=\"\(f(top + Double(t) * 8))\" width=\"10\" height=\"8\" fill=\"\(isDiverging ? diverging(v) : sequential(v))\"/>"
        }
        s += "<text x=\"\(f(kx + 13))\" y=\"\(f(top + 7))\" class=\"tick\">\(escape(label(m)))</text>"
        s += "<text x=\"\(f(kx + 13))\" y=\"\(f(top + 80))\" class=\"tick\">\(escape(label(isDiverging ? -m : 0)))</text>"
        if !columnTitle.isEmpty {
            s += "<text x=\"\(f(labelW + cw * Double(columns.count) / 2))\" y=\"\(f(height - 4))\" text-anchor=\"middle\" class=\"label\">\(escape(columnTitle))</text>"
        }
        return s + "</svg>"
    }

    /// Overlaid histograms of one variable, one outline per group (a latent coloured by an obs column).
    public static func histogram(_ groups: [(name: String, values: [Double])], title: String, xLabel: String,
                                 bins: Int = 30, width: Double = 420, height: Double = 220) -> String {
        let all = groups.flatMap(\.values).filter(\.isFinite)
        guard let lo = all.min(), let hi = all.max() else { return "" }
        let span = hi > lo ? hi - lo : 1
        let edges = (0...bins).map { lo + span * Double($0) / Double(bins) }
        let counts: [[Double]] = groups.map { g in
            var c = [Double](repeating: 0, count: bins)
            for v in g.values where v.isFinite { c[min(bins - 1, Int((v - lo) / span * Double(bins)))] += 1 }
            // densities, so groups of different sizes compare
            let total = max(1, c.reduce(0, +))
            return c.map { $0 / total }
        }
        let ymax = counts.flatMap { $0 }.max() ?? 1
        let fr = Frame(width: width, height: height, left: 44, right: 10, top: 26, bottom: 34, x0: lo, x1: lo + span, y0: 0, y1: ymax * 1.05)
        var s = open(width, height, title: title)
        s += axes(fr, xLabel: xLabel, yLabel: "fraction of cells")
        for (gi, c) in counts.enumerated() {
            let col = palette[gi % palette.count]
            var d = "M\(f(fr.x(edges[0]))),\(f(fr.y(0)))"
            for b in 0..<bins { d += "L\(f(fr.x(edges[b]))),\(f(fr.y(c[b])))L\(f(fr.x(edges[b + 1]))),\(f(fr.y(c[b])))" }
            d += "L\(f(fr.x(edges[bins]))),\(f(fr.y(0)))Z"
            s += "<path d=\"\(d)\" fill=\"\(col)\" fill-opacity=\"\(groups.count > 1 ? "0.18" : "0.45")\" stroke=\"\(col)\" stroke-width=\"1.4\"/>"
        }
        if groups.count > 1 || !groups[0].name.isEmpty {
            s += legend(groups.map { "\($0.name) (\($0.values.count))" }, x: fr.left, y: 14)
        }
        return s + "</svg>"
    }
    /// A scatter of cells coloured by group (the first 7 groups by size in the palette, the rest
    /// grey as "other"). At most `maxPoints` cells are drawn, every ⌈n/maxPoints⌉-th one, so the
    /// page stays small and the choice is the same on every run.
    public static func scatter(x: [Double], y: [Double], group: [Int], names: [String], title: String,
                               xLabel: String, yLabel: String, maxPoints: Int = 2500,
                               width: Double = 420, height: Double = 340) -> String {
        let idx = x.indices.filter { x[$0].isFinite && y[$0].isFinite }
        guard let x0 = idx.map({ x[$0] }).min(), let x1 = idx.map({ x[$0] }).max(),
              let y0 = idx.map({ y[$0] }).min(), let y1 = idx.map({ y[$0] }).max() else { return "" }
        var size = [Int](repeating: 0, count: names.count)
        for g in group where g >= 0 && g < names.count { size[g] += 1 }
        // groups without cells (unused categories) are left out of the colours and the legend
        let byCount = names.indices.filter { size[$0] > 0 }.sorted { size[$0] != size[$1] ? size[$0] > size[$1] : $0 < $1 }
        let shown = Array(byCount.prefix(byCount.count > 8 ? 7 : 8))
        var colorOf = [Int](repeating: -1, count: names.count)
        for (c, g) in shown.enumerated() { colorOf[g] = c }
        let padX = (x1 - x0) * 0.03 + 1e-12, padY = (y1 - y0) * 0.03 + 1e-12
        let fr = Frame(width: width, height: height, left: 44, right: 10, top: 40, bottom: 34,
                       x0: x0 - padX, x1: x1 + padX, y0: y0 - padY, y1: y1 + padY)
        var s = open(width, height, title: title)
        s += axes(fr, xLabel: xLabel, yLabel: yLabel)
        let step = max(1, (idx.count + maxPoints - 1) / maxPoints)
        // "other" first, so that the named groups are drawn on top
        for pass in 0..<2 {
            for (r, i) in idx.enumerated() where r % step == 0 {
                let g = group[i], c = g >= 0 && g < names.count ? colorOf[g] : -1
                if (pass == 0) != (c < 0) { continue }
                let col = c < 0 ? "#b8c0c8" : palette[c % palette.count]
                s += "<circle cx=\"\(f(fr.x(x[i])))\" cy=\"\(f(fr.y(y[i])))\" r=\"1.8\" fill=\"\(col)\" fill-opacity=\"0.7\"/>"
            }
        }
        var legendNames = shown.map { "\(names[$0]) (\(size[$0]))" }
        var colors = shown.indices.map { palette[$0 % palette.count] }
        if byCount.count > shown.count { legendNames.append("other"); colors.append("#b8c0c8") }
        // one legend line per 4 groups keeps wide category names inside the chart
        for line in stride(from: 0, to: legendNames.count, by: 4) {
            let end = min(legendNames.count, line + 4)
            s += legend(Array(legendNames[line..<end]), x: fr.left, y: 14 + Double(line / 4) * 12, colors: Array(colors[line..<end]))
        }
        return s + "</svg>"
    }
}
