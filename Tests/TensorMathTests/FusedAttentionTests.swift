import Foundation
import Testing
import TensorMath

/// The fused attention kernel against the BLAS route it replaces (two products around a softmax), at
/// key and row counts that leave partial blocks of keys (64) and of query rows (6).
@Suite(.enabled(if: FusedAttention.available, "this CPU has no AVX-512: the BLAS route runs instead"))
struct FusedAttentionTests {
    @Test(arguments: [(1, 1), (5, 17), (13, 70), (7, 130), (64, 257)])
    func matchesTwoProductsAroundASoftmax(rows: Int, keys: Int) {
        let hd = 64, heads = 2, ld = 3 * heads * hd, scale: Float = 0.125
        let n = max(rows, keys)
        var qkv = (0..<(n * ld)).map { i in Float(sin(Double(i) * 0.37) * 3) }
        for j in 0..<hd { qkv[(n / 2) * ld + heads * hd + j] *= 6 }   // one dominant key, as in DINOv2
        for h in 0..<heads {
            var fused = [Float](repeating: .nan, count: rows * hd)
            var scores = [Float](repeating: 0, count: rows * keys), reference = [Float](repeating: 0, count: rows * hd)
            qkv.withUnsafeBufferPointer { p in
                let q = p.baseAddress! + h * hd, k = q + heads * hd, v = k + heads * hd
                #expect(FusedAttention.run(rows: rows, keys: keys, headSize: hd, q: q, k: k, v: v, ld: ld, scale: scale,
                                           out: &fused, ldOut: hd))
                BLAS.gemm(transB: true, m: rows, n: keys, k: hd, a: q, lda: ld, b: k, ldb: ld, c: &scores, ldc: keys)
                softmaxForward(&scores, rows: rows, n: keys, stride: keys, scale: scale)
                BLAS.gemm(m: rows, n: hd, k: keys, a: scores, lda: keys, b: v, ldb: ld, c: &reference, ldc: hd)
            }
            let worst = zip(fused, reference).map { abs($0 - $1) }.max()!
            #expect(worst < 2e-5, "rows \(rows), keys \(keys), head \(h): max difference \(worst)")
        }
    }
}
