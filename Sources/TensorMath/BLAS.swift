import Glibc

/// Single-precision matrix products through OpenBLAS (row-major), loaded at first use.
///
/// Why not link it: Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) picks its kernels in a library constructor,
/// and on CPUs it does not recognise (this project's cloud Xeons) it falls back to SSE3 "Prescott" kernels:
/// 50-60 GFLOP/s on two cores instead of 185-260 with its AVX-512 ones. Loading it ourselves lets us name
/// the core from the CPU's flags first (unless OPENBLAS_CORETYPE is already set, which always wins).
public enum BLAS {
    typealias Sgemm = @convention(c) (Int32, Int32, Int32, Int32, Int32, Int32, Float, UnsafePointer<Float>?, Int32,
                                      UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32) -> Void
    typealias Dgemm = @convention(c) (Int32, Int32, Int32, Int32, Int32, Int32, Double, UnsafePointer<Double>?, Int32,
                                      UnsafePointer<Double>?, Int32, Double, UnsafeMutablePointer<Double>?, Int32) -> Void
    typealias SetThreads = @convention(c) (Int32) -> Void
    typealias GetInt = @convention(c) () -> Int32
    typealias GetString = @convention(c) () -> UnsafePointer<CChar>?

    struct Library {
        let sgemm: Sgemm
        let dgemm: Dgemm
        let setThreads: SetThreads
        let getThreads: GetInt
        let corename: GetString
    }

    static let library: Library = {
        if getenv("OPENBLAS_CORETYPE") == nil, let core = preferredCore() {
            setenv("OPENBLAS_CORETYPE", core, 0)
        }
        // Idle OpenBLAS threads spin on sched_yield for 2^28 cycles by default, stealing a core from the
        // attention heads that run between products; 2^4 puts them to sleep at once.
        setenv("OPENBLAS_THREAD_TIMEOUT", "4", 0)
        var handle: UnsafeMutableRawPointer? = nil
        for name in ["libopenblas.so.0", "libopenblas.so"] where handle == nil {
            handle = dlopen(name, RTLD_NOW | RTLD_GLOBAL)
        }
        guard let handle else {
            fatalError("cannot load OpenBLAS (libopenblas.so.0): install it with `apt-get install libopenblas0` (or run scripts/setup.sh)")
        }
        func symbol<T>(_ name: String, _ type: T.Type) -> T {
            guard let p = dlsym(handle, name) else { fatalError("OpenBLAS lacks \(name): a very old OpenBLAS?") }
            return unsafeBitCast(p, to: type)
        }
        let library = Library(sgemm: symbol("cblas_sgemm", Sgemm.self),
                              dgemm: symbol("cblas_dgemm", Dgemm.self),
                              setThreads: symbol("openblas_set_num_threads", SetThreads.self),
                              getThreads: symbol("openblas_get_num_threads", GetInt.self),
                              corename: symbol("openblas_get_corename", GetString.self))
        // Each call runs on the calling thread; parallelism comes from splitting work across cores ourselves.
        library.setThreads(1)
        return library
    }()

    /// The OpenBLAS core for this CPU's vector extensions, read from /proc/cpuinfo.
    static func preferredCore() -> String? {
        guard let file = fopen("/proc/cpuinfo", "r") else { return nil }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>? = nil
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0 {
            let text = String(cString: line!)
            guard text.hasPrefix("flags") else { continue }
            let flags = Set(text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init))
            if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl", "avx512dq"]) { return "SkylakeX" }
            if flags.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
            return nil
        }
        return nil
    }

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
        // CBLAS constants: row-major 101, no transpose 111, transpose 112.
        library.sgemm(101, transA ? 112 : 111, transB ? 112 : 111, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda),
                      b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// The double-precision C = alpha * op(A) * op(B) + beta * C (row-major), for model fitting
    /// (the linear heads' softmax regression), where single precision would stall the optimizer.
    public static func dgemm(transA: Bool = false, transB: Bool = false,
                             m: Int, n: Int, k: Int, alpha: Double = 1,
                             a: UnsafePointer<Double>, lda: Int,
                             b: UnsafePointer<Double>, ldb: Int,
                             beta: Double = 0,
                             c: UnsafeMutablePointer<Double>, ldc: Int) {
        library.dgemm(101, transA ? 112 : 111, transB ? 112 : 111, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda),
                      b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// The same product on all cores, through OpenBLAS's own threads.
    ///
    /// Products inside already-parallel loops (the attention heads) stay on one thread each: OpenBLAS
    /// runs single-threaded except for the duration of this call. Its threaded kernels beat splitting
    /// the rows ourselves at the model's shapes (k = 384: each half would pack the weights again).
    public static func parallelGemm(transA: Bool = false, transB: Bool = false,
                                    m: Int, n: Int, k: Int, alpha: Float = 1,
                                    a: UnsafePointer<Float>, lda: Int,
                                    b: UnsafePointer<Float>, ldb: Int,
                                    beta: Float = 0,
                                    c: UnsafeMutablePointer<Float>, ldc: Int) {
        let threaded = Parallel.cores > 1 && m * n * k >= 1 << 22
        if threaded { library.setThreads(Int32(Parallel.cores)) }
        gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
             beta: beta, c: c, ldc: ldc)
        if threaded { library.setThreads(1) }
    }

    /// Sets the number of threads OpenBLAS uses for one product.
    public static func setThreads(_ n: Int) { library.setThreads(Int32(n)) }

    /// The number of threads OpenBLAS uses for one product.
    public static var threads: Int { Int(library.getThreads()) }

    /// The kernel family OpenBLAS runs (e.g. "SkylakeX", "Haswell").
    public static var core: String { library.corename().map { String(cString: $0) } ?? "unknown" }
}
