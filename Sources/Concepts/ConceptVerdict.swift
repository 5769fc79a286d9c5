// A one-line judgement of a concept's quality figures, so a user need not read AUCs and p-values to
// know whether a concept can be trusted.

/// What the figures of `ConceptQuality` say about a concept, in one line.
public struct ConceptVerdict: Codable, Sendable, Equatable {
    public enum Level: String, Codable, Sendable {
        /// Significant against random concepts, and every example ranks high when left out.
        case usable
        /// Not distinguishable from random concepts of background images (p > 0.05).
        case weak
        /// Significant, but some examples rank low when left out: they may not show the concept.
        case inconsistent
        /// Figures exist but no significance test ran (too few images, or R = 0).
        case untested
        /// No leave-one-out figures (fewer than 3 examples, or no background).
        case unjudged
    }

    public var level: Level
    /// The verdict for people, e.g. "usable: ..." or "weak: not distinguishable from random concepts ...".
    public var text: String
    /// The examples (by the names given) that fall outside the top `outlierShare` of the background when
    /// left out, in the examples' order.
    public var outliers: [String]

    /// An example is an outlier when, left out, more than this share of the background outscores it.
    public static let outlierShare = 0.10
    /// The significance level of the verdict.
    public static let alpha = 0.05
}

extension ConceptQuality {
    /// True when the p-value is the smallest R random concepts can give, 1/(R+1): no random concept did
    /// as well, and more random concepts could only give a smaller p.
    public var pAtFloor: Bool {
        guard let p = pValue, let r = randomConcepts else { return false }
        return abs(p - 1 / Double(r + 1)) < 1e-12
    }

    /// The p-value for people: "p = 0.020 (the floor for 50 random concepts)" when at its floor.
    public var pDescription: String? {
        guard let p = pValue, let r = randomConcepts else { return nil }
        let value = p < 0.001 ? String(format: "%.1e", p) : String(format: "%.3f", p)
        return pAtFloor ? "p = \(value) (the floor for \(r) random concepts: none did as well)" : "p = \(value) (\(r) random concepts)"
    }

    /// Judges the figures. `exampleNames` names the examples in the order of `leaveOneOutRanks`
    /// (file names, say); missing names fall back to "example N".
    public func verdict(exampleNames: [String] = []) -> ConceptVerdict {
        var v = judged(exampleNames: exampleNames)
        if let k = excludedSimilar, k > 0, v.level != .unjudged {
            v.text += "; optimistic: the \(k) background images most like the examples were left out of these figures, so test with held-out positives (`cdam concept evaluate NAME --positives DIR`)"
        }
        return v
    }

    private func judged(exampleNames: [String]) -> ConceptVerdict {
        func name(_ i: Int) -> String { i < exampleNames.count ? exampleNames[i] : "example \(i + 1)" }
        guard let auc, let ranks = leaveOneOutRanks, let m = backgroundCount, m > 0 else {
            let why = notes.first ?? "no leave-one-out figures"
            return ConceptVerdict(level: .unjudged, text: "not judged: \(why)", outliers: [])
        }
        // Rank r means r - 1 background images outscore the held-out example.
        let limit = max(1.0, ConceptVerdict.outlierShare * Double(m))
        let outliers = ranks.indices.filter { Double(ranks[$0] - 1) > limit }.map(name)
        let outlierText = outliers.isEmpty ? "" :
            "; \(outliers.joined(separator: ", ")) rank\(outliers.count == 1 ? "s" : "") outside the top \(Int(ConceptVerdict.outlierShare * 100))% of the background when left out"
        let aucText = String(format: "AUC %.3f", auc)
        guard let p = pValue, let pText = pDescription else {
            return ConceptVerdict(level: .untested,
                                  text: "untested: \(aucText), but no significance test (\(notes.first ?? "no random concepts"))\(outlierText)",
                                  outliers: outliers)
        }
        if p > ConceptVerdict.alpha {
            let chance = randomAUCMean.map { String(format: "; random concepts reach AUC %.3f ± %.3f", $0, randomAUCStd ?? 0) } ?? ""
            return ConceptVerdict(level: .weak,
                                  text: "weak: not distinguishable from random concepts (\(aucText), \(pText)\(chance)); add examples or use a discriminative kind\(outlierText)",
                                  outliers: outliers)
        }
        if !outliers.isEmpty {
            return ConceptVerdict(level: .inconsistent,
                                  text: "inconsistent examples: \(outliers.joined(separator: ", ")) rank\(outliers.count == 1 ? "s" : "") outside the top \(Int(ConceptVerdict.outlierShare * 100))% of the background when left out; check them (\(aucText), \(pText))",
                                  outliers: outliers)
        }
        return ConceptVerdict(level: .usable,
                              text: "usable: \(aucText), \(pText); every example ranks in the top \(Int(ConceptVerdict.outlierShare * 100))% of the background when left out",
                              outliers: [])
    }
}
