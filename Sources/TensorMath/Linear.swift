// A linear layer's weight, ready for y = x W^T + b at the model's shapes.
//
// On CPUs with AVX-512 the product runs in CKernels' kernel on a copy of W packed once here; elsewhere
// it goes through OpenBLAS (bias rows first, then the product accumulates onto them). With bf16 precision,
// on CPUs with AVX512-BF16, it runs CKernels' bf16 kernel on a second copy packed to bf16 pairs on first use.

import CKernels
#if canImport(Glibc)
import Glibc
#endif

/// A linear layer's weight W (outputs, inputs): packed for the kernel where it runs, row-major otherwise.
public final class LinearWeight: @unchecked Sendable {
    public let outputs: Int, inputs: Int
    let packed: FloatBuffer?
    /// W row-major: as given when there is no packed copy, else rebuilt from it on first use (the backward
    /// passes read it) and kept. One copy of the weights, not two, for the forward pass.
    private var plain: FloatBuffer?
    private let plainLock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    /// W in bf16 pairs for the bf16 kernel, packed on the first bf16 product (under plainLock), then kept.
    private var packedBF16: UnsafeMutablePointer<UInt32>?

    /// Whether this CPU runs the packed kernel (x86-64 with AVX-512F); CDAM_LINEAR=blas turns it off.
    public static let kernelAvailable: Bool = {
        if let choice = getenv("CDAM_LINEAR").map({ String(cString: $0) }), choice == "blas" { return false }
        return CPU.avx512
    }()

    public init(_ weight: FloatBuffer, outputs: Int, inputs: Int) {
        precondition(weight.count == outputs * inputs, "weight has \(weight.count) values, not \(outputs)x\(inputs)")
        self.outputs = outputs
        self.inputs = inputs
        pthread_mutex_init(plainLock, nil)
        if Self.kernelAvailable {
            let packed = FloatBuffer(uninitialized: cdam_linear_packed_count(Int32(outputs), Int32(inputs)))
            cdam_linear_pack(weight.ptr, Int32(outputs), Int32(inputs), packed.ptr)
            self.packed = packed
            plain = nil
        } else {
            packed = nil
            plain = weight
        }
    }

    deinit {
        packedBF16?.deallocate()
        pthread_mutex_destroy(plainLock)
        plainLock.deallocate()
    }

    /// W (outputs, inputs) row-major.
    public var weight: FloatBuffer {
        pthread_mutex_lock(plainLock); defer { pthread_mutex_unlock(plainLock) }
        if let plain { return plain }
        let w = FloatBuffer(uninitialized: outputs * inputs)
        cdam_linear_unpack(packed!.ptr, Int32(outputs), Int32(inputs), w.ptr)
        plain = w
        return w
    }

    /// W packed to bf16 pairs for the bf16 kernel, packed on first use; nil where the kernel does not run.
    var bf16Packed: UnsafePointer<UInt32>? {
        guard Precision.bf16Available else { return nil }
        pthread_mutex_lock(plainLock); defer { pthread_mutex_unlock(plainLock) }
        if let packedBF16 { return UnsafePointer(packedBF16) }
        let count = cdam_linear_bf16_packed_count(Int32(outputs), Int32(inputs))
        let p = UnsafeMutablePointer<UInt32>.allocate(capacity: count)
        if let packed {   // the row-major W is not kept beside the fp32 panels: unpack one in a scratch copy
            let w = FloatBuffer(uninitialized: outputs * inputs)
            cdam_linear_unpack(packed.ptr, Int32(outputs), Int32(inputs), w.ptr)
            cdam_linear_bf16_pack(w.ptr, Int32(outputs), Int32(inputs), p)
        } else {
            cdam_linear_bf16_pack(plain!.ptr, Int32(outputs), Int32(inputs), p)
        }
        packedBF16 = p
        return UnsafePointer(p)
    }

    /// out[r, j] = bias[j] + x[r] . W[j] for `rows` rows and the outputs j in `columns` (all by default), then
    /// the epilogue, on the calling thread. `out` points at output 0 of row 0; `ldx`, `ldOut` are row strides.
    /// With `precision` bf16 the products take bf16 operands (fp32 sums) where the CPU runs the bf16 kernel,
    /// and fall back to fp32 elsewhere.
    public func apply(rows: Int, x: UnsafePointer<Float>, ldx: Int, bias: UnsafePointer<Float>?,
                      out: UnsafeMutablePointer<Float>, ldOut: Int, columns: Range<Int>? = nil,
                      epilogue: LinearEpilogue = .none, precision: Precision = .fp32) {
        let cols = columns ?? 0..<outputs
        guard rows > 0, !cols.isEmpty else { return }
        let panel = Int(CDAM_LINEAR_PANEL)
        let aligned = cols.lowerBound % panel == 0 && (cols.upperBound % panel == 0 || cols.upperBound == outputs)
        var e = cdam_linear_epilogue()
        switch epilogue {
        case .none: break
        case let .residual(residual, ld, scale):
            e.residual = residual; e.ld_residual = Int32(ld); e.scale = scale
        case let .gelu(pre, ld):
            e.gelu = 1; e.pre = pre; e.ld_pre = Int32(ld)
        }
        if precision == .bf16, aligned, let bf16 = bf16Packed,
           cdam_linear_bf16(Int32(rows), Int32(outputs), Int32(inputs), x, Int32(ldx), bf16, bias, out, Int32(ldOut),
                            Int32(cols.lowerBound / panel), Int32((cols.upperBound + panel - 1) / panel), &e) == 0 {
            return
        }
        if let packed, aligned {
            if cdam_linear(Int32(rows), Int32(outputs), Int32(inputs), x, Int32(ldx), packed.ptr, bias, out, Int32(ldOut),
                           Int32(cols.lowerBound / panel), Int32((cols.upperBound + panel - 1) / panel), &e) == 0 {
                return
            }
        }
        let lo = cols.lowerBound, n = cols.count
        for r in 0..<rows {
            let o = out + r * ldOut + lo
            if let bias { o.update(from: bias + lo, count: n) } else { o.update(repeating: 0, count: n) }
        }
        BLAS.gemm(transB: true, m: rows, n: n, k: inputs, a: x, lda: ldx, b: self.weight.ptr + lo * inputs, ldb: inputs,
                  beta: 1, c: out + lo, ldc: ldOut)
        for r in 0..<rows {
            let o = out + r * ldOut + lo
            switch epilogue {
            case .none: break
            case let .residual(residual, ld, scale):
                let res = residual + r * ld + lo
                for j in 0..<n { o[j] = res[j] + (scale?[lo + j] ?? 1) * o[j] }
            case let .gelu(pre, ld):
                pre.map { ($0 + r * ld + lo).update(from: o, count: n) }
                geluForward(o, count: n)
            }
        }
    }
}

/// What `LinearWeight.apply` does to y = x W^T + b before storing it. Pointers point at output 0 of row 0.
public enum LinearEpilogue {
    case none
    /// out = residual + scale * y (LayerScale per output; nil for 1), residual rows at stride `ld`.
    case residual(UnsafePointer<Float>, ld: Int, scale: UnsafePointer<Float>?)
    /// out = GELU(y), and y itself into `pre` (rows at stride `ld`) when given.
    case gelu(pre: UnsafeMutablePointer<Float>?, ld: Int)
}
