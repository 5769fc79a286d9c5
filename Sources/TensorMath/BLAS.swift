import CBLAS

/// Single-precision matrix products through OpenBLAS (row-major).
public enum BLAS {
    /// C = alpha * op(A) * op(B) + beta * C, with op(A) m x k, op(B) k x n, C m x n, all row-major.
    ///
    /// `lda`, `ldb`, `ldc` are row strides, so a head's slice of a fused q|k|v matrix
    /// is passed without copying.
    @inline(__always)
    public static func gemm(transA: Bool = false, transB: Bool = false,
                            m: Int, n: Int, k: Int, alpha: Float = 1,
                            a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0,
                            c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Sets the number of threads OpenBLAS uses for one product.
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }

    /// The number of threads OpenBLAS uses for one product.
    public static var threads: Int { Int(openblas_get_num_threads()) }
}
