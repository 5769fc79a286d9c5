// Small dense linear algebra in Double for concept building: row-major matrices, weighted Gram
// matrices, Cholesky factorization and a low-rank (Woodbury) downdate of a factored system.
//
// Letters: N rows (embeddings), D width, p = D + 1 for rows augmented with a constant 1.

/// A dense row-major matrix (rows x cols) of Doubles.
struct Matrix {
    var rows: Int
    var cols: Int
    var data: [Double]

    init(rows: Int, cols: Int, repeating value: Double = 0) {
        self.rows = rows
        self.cols = cols
        self.data = [Double](repeating: value, count: rows * cols)
    }

    /// Stacks embedding sets, checking widths and finiteness; `sets` pairs a name ("example",
    /// "background") used in errors with its rows.
    init(validating sets: [(name: String, rows: [[Float]])], width: Int, concept: String) throws {
        let total = sets.reduce(0) { $0 + $1.rows.count }
        self.init(rows: total, cols: width)
        var r = 0
        for set in sets {
            for (i, row) in set.rows.enumerated() {
                guard row.count == width else {
                    throw ConceptError.widthMismatch(concept: concept, set: set.name, index: i,
                                                     width: row.count, expected: width)
                }
                let base = r * width
                for j in 0..<width {
                    let v = row[j]
                    guard v.isFinite else { throw ConceptError.nonFinite(concept: concept, set: set.name, index: i) }
                    data[base + j] = Double(v)
                }
                r += 1
            }
        }
    }

    /// Sum of the given rows (D numbers).
    func rowSum<C: Collection>(_ indices: C) -> [Double] where C.Element == Int {
        var s = [Double](repeating: 0, count: cols)
        data.withUnsafeBufferPointer { x in
            s.withUnsafeMutableBufferPointer { out in
                for i in indices {
                    let row = x.baseAddress! + i * cols
                    for j in 0..<cols { out[j] += row[j] }
                }
            }
        }
        return s
    }

    /// Mean of the given rows (D numbers); zeros for an empty set.
    func rowMean<C: Collection>(_ indices: C) -> [Double] where C.Element == Int {
        var s = rowSum(indices)
        if !indices.isEmpty {
            let inv = 1 / Double(indices.count)
            for j in 0..<cols { s[j] *= inv }
        }
        return s
    }

    /// g (cols x cols, upper triangle only) += weight * sum over `indices` of row row^T.
    /// Four rows per sweep over g, so g is streamed a quarter as often as a rank-1 loop would.
    func addGramUpper(_ indices: [Int], weight: Double, into g: inout [Double]) {
        let p = cols
        precondition(g.count == p * p)
        data.withUnsafeBufferPointer { xb in
            g.withUnsafeMutableBufferPointer { gb in
                let x = xb.baseAddress!, gp = gb.baseAddress!
                var k = 0
                while k + 4 <= indices.count {
                    let z0 = x + indices[k] * p, z1 = x + indices[k + 1] * p
                    let z2 = x + indices[k + 2] * p, z3 = x + indices[k + 3] * p
                    for j in 0..<p {
                        let a0 = weight * z0[j], a1 = weight * z1[j], a2 = weight * z2[j], a3 = weight * z3[j]
                        let gr = gp + j * p
                        for c in j..<p { gr[c] += a0 * z0[c] + a1 * z1[c] + a2 * z2[c] + a3 * z3[c] }
                    }
                    k += 4
                }
                while k < indices.count {
                    let z0 = x + indices[k] * p
                    for j in 0..<p {
                        let a0 = weight * z0[j]
                        let gr = gp + j * p
                        for c in j..<p { gr[c] += a0 * z0[c] }
                    }
                    k += 1
                }
            }
        }
    }

    /// out[i] = row_i . v for every row (v has cols numbers).
    func multiply(_ v: [Double], into out: inout [Double]) {
        let p = cols
        data.withUnsafeBufferPointer { xb in
            v.withUnsafeBufferPointer { vb in
                out.withUnsafeMutableBufferPointer { ob in
                    for i in 0..<rows { ob[i] = dot(xb.baseAddress! + i * p, vb.baseAddress!, p) }
                }
            }
        }
    }

    /// out = sum_i r[i] row_i (cols numbers), skipping zero coefficients.
    func multiplyTransposed(_ r: [Double], into out: inout [Double]) {
        let p = cols
        data.withUnsafeBufferPointer { xb in
            out.withUnsafeMutableBufferPointer { ob in
                let o = ob.baseAddress!
                for j in 0..<p { o[j] = 0 }
                for i in 0..<rows where r[i] != 0 {
                    let row = xb.baseAddress! + i * p, a = r[i]
                    for j in 0..<p { o[j] += a * row[j] }
                }
            }
        }
    }
}

/// Copies the upper triangle of a square row-major matrix onto its lower triangle.
func symmetrizeUpper(_ g: inout [Double], _ p: Int) {
    for i in 0..<p { for j in 0..<i { g[i * p + j] = g[j * p + i] } }
}

/// a . b over n Doubles, with independent accumulators so the loop vectorizes without
/// relying on reassociation.
@inline(__always)
func dot(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ n: Int) -> Double {
    var s0 = SIMD4<Double>(), s1 = SIMD4<Double>()
    var k = 0
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    let stride = MemoryLayout<Double>.stride
    while k + 8 <= n {
        s0 += ra.loadUnaligned(fromByteOffset: k * stride, as: SIMD4<Double>.self)
            * rb.loadUnaligned(fromByteOffset: k * stride, as: SIMD4<Double>.self)
        s1 += ra.loadUnaligned(fromByteOffset: (k + 4) * stride, as: SIMD4<Double>.self)
            * rb.loadUnaligned(fromByteOffset: (k + 4) * stride, as: SIMD4<Double>.self)
        k += 8
    }
    var s = (s0 + s1).sum()
    while k < n { s += a[k] * b[k]; k += 1 }
    return s
}

func dot(_ a: [Double], _ b: [Double]) -> Double {
    a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in dot(x.baseAddress!, y.baseAddress!, a.count) } }
}

/// The Cholesky factor L (lower, row-major) of a symmetric positive definite matrix A = L L^T.
struct Cholesky {
    let n: Int
    private(set) var l: [Double]

    /// Factors `a` (n x n, row-major, both triangles or at least the lower one filled);
    /// nil when `a` is not numerically positive definite.
    init?(_ a: [Double], n: Int) {
        self.n = n
        var l = [Double](repeating: 0, count: n * n)
        let ok: Bool = l.withUnsafeMutableBufferPointer { lb in
            let L = lb.baseAddress!
            for i in 0..<n {
                let li = L + i * n
                for j in 0..<i {
                    let lj = L + j * n
                    li[j] = (a[i * n + j] - dot(UnsafePointer(li), UnsafePointer(lj), j)) / lj[j]
                }
                let d = a[i * n + i] - dot(UnsafePointer(li), UnsafePointer(li), i)
                guard d > 0, d.isFinite else { return false }
                li[i] = d.squareRoot()
            }
            return true
        }
        guard ok else { return nil }
        self.l = l
    }

    /// Solves A x = b in place.
    func solve(_ b: inout [Double]) {
        precondition(b.count == n)
        l.withUnsafeBufferPointer { lb in
            b.withUnsafeMutableBufferPointer { xb in
                let L = lb.baseAddress!, x = xb.baseAddress!
                for i in 0..<n {
                    let li = L + i * n
                    x[i] = (x[i] - dot(li, UnsafePointer(x), i)) / li[i]
                }
                // L^T x = y, column by column so row i of L is read contiguously.
                var i = n - 1
                while i >= 0 {
                    let li = L + i * n
                    x[i] /= li[i]
                    let xi = x[i]
                    for k in 0..<i { x[k] -= li[k] * xi }
                    i -= 1
                }
            }
        }
    }

    func solved(_ b: [Double]) -> [Double] {
        var x = b
        solve(&x)
        return x
    }
}

/// Solves (A0 - sum_j c_j u_j u_j^T) x = v by the Woodbury identity, given A0's factor and the
/// solves y = A0^-1 v and ys[j] = A0^-1 u_j. At most two update vectors, so the inner system
/// is 1x1 or 2x2; returns nil when the downdated matrix is singular.
func woodburySolve(y: [Double], us: [[Double]], ys: [[Double]], coefficients c: [Double]) -> [Double]? {
    let k = us.count
    precondition(k == ys.count && k == c.count && (1...2).contains(k))
    // M = C^-1 - U^T A0^-1 U; x = y + Y M^-1 (U^T y).
    var m = [Double](repeating: 0, count: k * k)
    var r = [Double](repeating: 0, count: k)
    for a in 0..<k {
        r[a] = dot(us[a], y)
        for b in 0..<k { m[a * k + b] = -dot(us[a], ys[b]) }
        m[a * k + a] += 1 / c[a]
    }
    var coef = [Double](repeating: 0, count: k)
    if k == 1 {
        guard m[0] != 0 else { return nil }
        coef[0] = r[0] / m[0]
    } else {
        let det = m[0] * m[3] - m[1] * m[2]
        guard det != 0, det.isFinite else { return nil }
        coef[0] = (m[3] * r[0] - m[1] * r[1]) / det
        coef[1] = (m[0] * r[1] - m[2] * r[0]) / det
    }
    var x = y
    for a in 0..<k {
        let ya = ys[a], ca = coef[a]
        for j in 0..<x.count { x[j] += ca * ya[j] }
    }
    return x
}
