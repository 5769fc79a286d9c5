// The figures maps are compared by in the CDAM paper: sparsity and correlation with TAM.

/// How the sparsity ratio's threshold is taken.
public enum SparsityReference: String, Codable, Sendable {
    /// 0.05 * max(s), the notebook's definition.
    case max
    /// 0.05 * max|s|, the natural variant for signed maps (the default here).
    case maxAbs
}

/// The sparsity ratio: the fraction of patch scores with |s| < 0.05 * reference.
public func sparsityRatio(_ map: [Float], reference: SparsityReference = .maxAbs) -> Float {
    guard !map.isEmpty else { return 0 }
    let ref: Float = reference == .max ? (map.max() ?? 0) : map.map(abs).max() ?? 0
    let threshold = 0.05 * ref
    return Float(map.filter { abs($0) < threshold }.count) / Float(map.count)
}

/// Pearson correlation of two maps (0 when either is constant).
public func pearson(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    let n = Double(a.count)
    guard n > 1 else { return 0 }
    let ma = a.reduce(0.0) { $0 + Double($1) } / n, mb = b.reduce(0.0) { $0 + Double($1) } / n
    var sab = 0.0, saa = 0.0, sbb = 0.0
    for i in 0..<a.count {
        let x = Double(a[i]) - ma, y = Double(b[i]) - mb
        sab += x * y; saa += x * x; sbb += y * y
    }
    guard saa > 0, sbb > 0 else { return 0 }
    return Float(sab / (saa * sbb).squareRoot())
}
