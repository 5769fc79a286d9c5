import Concepts
import Foundation

/// The report page: one HTML file with its images inlined, so it opens from disk and can be mailed.
enum ReportHTML {
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func number(_ x: Float?, _ digits: Int = 3) -> String {
        guard let x, x.isFinite else { return "n/a" }
        return String(format: "%.\(digits)g", x)
    }

    static func number(_ x: Double?, _ digits: Int = 3) -> String { number(x.map(Float.init), digits) }

    /// An <img> whose source is the file's bytes, inlined.
    static func img(_ relative: String?, base: URL, alt: String, cls: String = "") -> String {
        guard let relative, let data = try? Data(contentsOf: base.appendingPathComponent(relative)) else {
            return "<div class=\"missing\">\(escape(alt)): image unavailable</div>"
        }
        let type = relative.hasSuffix(".jpg") ? "jpeg" : "png"
        return "<img class=\"\(cls)\" alt=\"\(escape(alt))\" src=\"data:image/\(type);base64,\(data.base64EncodedString())\">"
    }

    /// A histogram of the scores as inline SVG, with the top-K threshold marked.
    static func histogram(_ d: ReportDocument.Distribution, threshold: Float?) -> String {
        let w = 420.0, h = 120.0, maxCount = Double(d.bins.max() ?? 1)
        let bw = w / Double(max(d.bins.count, 1))
        var bars = ""
        for (i, c) in d.bins.enumerated() {
            let bh = maxCount > 0 ? Double(c) / maxCount * (h - 20) : 0
            bars += "<rect x=\"\(Double(i) * bw + 1)\" y=\"\(h - 16 - bh)\" width=\"\(bw - 2)\" height=\"\(bh)\" fill=\"#8aa\"><title>\(c) images</title></rect>"
        }
        var mark = ""
        if let t = threshold, d.max > d.min {
            let x = Double((t - d.min) / (d.max - d.min)) * w
            mark = "<line x1=\"\(x)\" x2=\"\(x)\" y1=\"0\" y2=\"\(h - 16)\" stroke=\"#e33\" stroke-dasharray=\"4 3\"/><text x=\"\(min(x + 4, w - 60))\" y=\"12\" font-size=\"11\" fill=\"#e33\">top shown</text>"
        }
        return """
        <svg viewBox="0 0 \(w) \(h)" width="\(w)" height="\(h)" role="img" aria-label="score distribution">\(bars)\(mark)
        <text x="0" y="\(h - 2)" font-size="11">\(number(d.min, 4))</text><text x="\(w)" y="\(h - 2)" font-size="11" text-anchor="end">\(number(d.max, 4))</text></svg>
        """
    }

    /// Deletion and insertion curves as inline SVG.
    static func curves(_ f: MapFigures) -> String {
        let w = 160.0, h = 90.0
        let all = f.curves.deletion + f.curves.insertion
        let lo = Double(all.min() ?? 0), hi = Double(all.max() ?? 1), span = max(hi - lo, 1e-12)
        func path(_ ys: [Float]) -> String {
            zip(f.curves.fractions, ys).map { x, y in "\(Double(x) * w),\(h - (Double(y) - lo) / span * h)" }.joined(separator: " ")
        }
        return """
        <svg viewBox="-2 -2 \(w + 4) \(h + 4)" width="\(w)" height="\(h)" role="img" aria-label="deletion and insertion curves">
        <rect x="0" y="0" width="\(w)" height="\(h)" fill="none" stroke="#ccc"/>
        <polyline points="\(path(f.curves.deletion))" fill="none" stroke="#36c" stroke-width="1.5"/>
        <polyline points="\(path(f.curves.insertion))" fill="none" stroke="#e80" stroke-width="1.5"/></svg>
        """
    }

    static func quality(_ q: ConceptQuality?, names: [String] = []) -> String {
        guard let q else { return "<p>No quality figures stored.</p>" }
        var rows = "<tr><th>examples</th><td>\(q.exampleCount)</td></tr>"
        rows += "<tr><th>coherence (mean pairwise cosine)</th><td>\(number(q.coherence))</td></tr>"
        if let ranks = q.leaveOneOutRanks {
            let named = ranks.enumerated().map { i, r in i < names.count ? "\(escape(names[i])) \(r)" : String(r) }
            rows += "<tr><th>leave-one-out rank of each example among \(q.backgroundCount ?? 0) background images (1 = above all)</th><td>\(named.joined(separator: ", "))</td></tr>"
        }
        rows += "<tr><th>leave-one-out AUC</th><td>\(number(q.auc))</td></tr>"
        rows += "<tr><th>p-value against \(q.randomConcepts.map(String.init) ?? "n/a") random concepts</th><td>\(number(q.pValue))\(q.pAtFloor ? " (the floor: no random concept did as well)" : "")</td></tr>"
        rows += "<tr><th>random concepts' AUC</th><td>\(number(q.randomAUCMean)) ± \(number(q.randomAUCStd))</td></tr>"
        let notes = q.notes.isEmpty ? "" : "<p class=\"note\">\(q.notes.map(escape).joined(separator: "<br>"))</p>"
        return "<table class=\"figures\">\(rows)</table>\(notes)"
    }

    static func render(_ doc: ReportDocument, legend: String, base: URL) -> String {
        var body = """
        <header><h1>Concept report</h1>
        <p>Model <b>\(escape(doc.model))</b> (weights sha256 \(doc.modelSHA256.prefix(16))…), \(doc.collection.map { "collection <b>\(escape($0))</b>" } ?? "all stored images"), made \(escape(doc.createdAt)).</p>
        <div class="legend">\(img(legend, base: base, alt: "colour scale: counter-evidence, 0 (transparent), evidence"))</div>
        <p class="note">Maps are CDAM: for each 14×14 patch, the gradient of the concept's score with respect to the tokens entering the last attention layer, times those tokens, summed. Warm patches raise the score, cool ones lower it; patches that do not matter stay uncoloured (the colour's opacity grows with the square root of |value|). Each picture is scaled by its own largest |value| (the "scale" in its label), on the photo at its own aspect ratio.</p>
        </header>
        """
        for s in doc.concepts {
            let c = s.concept
            body += "<section><h2>\(escape(c.name)) <small>\(escape(c.kind))</small></h2>"
            body += "<p>\(escape(c.description.isEmpty ? "(no description)" : c.description)) — \(c.examples) examples, background: \(escape(c.background)), defined \(escape(c.updatedAt)).</p>"
            body += "<h3>Examples</h3><div class=\"row\">" + s.examples.map { img($0, base: base, alt: "example", cls: "thumb") }.joined() + "</div>"
            body += "<h3>How good is this concept?</h3>"
            if let v = c.verdict { body += "<p class=\"verdict \(v.level.rawValue)\"><b>Verdict:</b> \(escape(v.text))</p>" }
            body += quality(c.quality, names: c.exampleNames ?? [])
            for w in (c.warnings ?? []) + (s.warnings ?? []) { body += "<p class=\"warning\">⚠ \(escape(w))</p>" }
            body += "<h3>Scores over \(s.distribution.count) images</h3>" + histogram(s.distribution, threshold: s.top.last?.score)
            body += "<p>mean \(number(s.distribution.mean, 4)), std \(number(s.distribution.std, 4))</p>"
            body += "<h3>Best matches and where the evidence is</h3>"
            if s.excludedExamples > 0 {
                body += "<p class=\"note\">The concept's \(s.excludedExamples) examples are left out of this ranking: they would top it and say nothing about the concept (scores.csv ranks every image and marks them).</p>"
            }
            body += "<div class=\"row\">"
            for t in s.top {
                let badge = t.example ? " <span class=\"badge\">example</span>" : ""
                let pct = t.percentile.map { String(format: " · %.1f%%ile", $0) } ?? ""
                body += "<figure>\(img(t.overlay, base: base, alt: "CDAM overlay of rank \(t.rank)", cls: "map"))<figcaption>#\(t.rank)\(badge) score \(number(t.score, 5))\(pct)<br>evidence +\(number(t.evidence)) / counter \(number(t.counterEvidence))<br><span class=\"path\">\(escape(URL(fileURLWithPath: t.image).lastPathComponent))</span></figcaption></figure>"
            }
            body += "</div></section>"
        }
        if !doc.comparisons.isEmpty {
            body += "<section><h2>CDAM beside the other maps</h2><p class=\"note\">AM: last-block CLS attention. Rollout: attention rolled out over all blocks. RP: Chefer et al.'s gradient-weighted relevance. TAM: the score drop when each patch token is removed. SCDAM / ICDAM (when asked for): Smooth CDAM, the mean over noisy copies, and Integrated CDAM, the gradient integrated from a baseline. Sparsity: share of patches below 5% of the largest |score|. Curves: the score as patches are deleted (blue, lower is better) or inserted (orange, higher is better) in the map's order.</p>"
            for cmp in doc.comparisons {
                body += "<h3>\(escape(URL(fileURLWithPath: cmp.image).lastPathComponent)) — \(escape(cmp.concept)), score \(number(cmp.score, 5))</h3><div class=\"row\">"
                for name in ["cdam", "scdam", "icdam", "am", "rollout", "rp", "tam"] {
                    guard let overlay = cmp.overlays[name] else { continue }
                    let f = cmp.figures[name]
                    body += "<figure>\(img(overlay, base: base, alt: "\(name) map", cls: "map"))<figcaption><b>\(name.uppercased())</b><br>sparsity \(number(f?.sparsity))"
                    if let r = f?.tamCorrelation { body += "<br>r with TAM \(number(r))" }
                    if let f { body += "<br>deletion AUC \(number(f.deletionArea)) · insertion AUC \(number(f.insertionArea))<br>\(curves(f))" }
                    body += "</figcaption></figure>"
                }
                body += "</div>"
            }
            body += "</section>"
        }
        if let g = doc.grid, !g.images.isEmpty {
            body += "<section><h2>Concepts × images</h2><table class=\"grid\"><tr><th></th>" + g.concepts.map { "<th>\(escape($0))</th>" }.joined() + "</tr>"
            for (i, path) in g.images.enumerated() {
                body += "<tr><th class=\"path\">\(escape(URL(fileURLWithPath: path).lastPathComponent))</th>"
                for k in g.concepts.indices {
                    body += "<td>\(img(g.overlays[i][k], base: base, alt: "\(g.concepts[k]) map", cls: "small"))<br>\(number(g.scores[i][k], 5))</td>"
                }
                body += "</tr>"
            }
            body += "</table></section>"
        }
        if !doc.notes.isEmpty {
            body += "<section><h2>Notes</h2><ul>" + doc.notes.map { "<li>\(escape($0))</li>" }.joined() + "</ul></section>"
        }
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>cdam report: \(escape(doc.concepts.map(\.concept.name).joined(separator: ", ")))</title>
        <style>
        body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1100px; color: #222; padding: 0 16px; }
        h1 { margin-bottom: 4px; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 36px; }
        h2 small { color: #888; font-weight: normal; font-size: 60%; }
        .row { display: flex; flex-wrap: wrap; gap: 10px; align-items: flex-start; }
        figure { margin: 0; width: 320px; } figcaption { font-size: 12px; color: #444; }
        img.map { width: 320px; height: auto; } img.thumb { height: 112px; } img.small { width: 240px; height: auto; }
        .legend img { display: block; width: 420px; height: auto; }
        .note { color: #555; font-size: 13px; } .path { font-family: ui-monospace, monospace; font-size: 11px; word-break: break-all; }
        table.figures th { text-align: left; font-weight: normal; color: #555; padding-right: 16px; }
        table.grid td, table.grid th { padding: 4px; text-align: center; font-size: 12px; vertical-align: top; }
        .badge { background: #d33; color: #fff; border-radius: 3px; padding: 0 4px; font-size: 11px; }
        .verdict.usable { color: #060; } .verdict.weak, .verdict.inconsistent { color: #a40; }
        .warning { color: #a40; font-size: 13px; }
        .missing { width: 224px; height: 60px; background: #f3f3f3; color: #999; font-size: 12px; padding: 8px; }
        </style></head><body>
        \(body)
        <footer class="note"><p>Numbers: report.json and scores.csv beside this page. Made by cdam.</p></footer>
        <script>
        // A self-check that scripts/check_report.sh reads: how many images failed to load.
        window.addEventListener("load", function () {
          var broken = Array.prototype.filter.call(document.images, function (i) { return !(i.complete && i.naturalWidth > 0); });
          document.body.setAttribute("data-broken-images", String(broken.length));
        });
        </script>
        </body></html>
        """
    }
}
