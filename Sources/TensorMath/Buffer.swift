#if canImport(Glibc)
import Glibc
#endif

/// A heap block of floats with a stable address: the activations and weights of the model.
///
/// Kernels take raw pointers (`ptr`) so the hot loops have no copy-on-write checks;
/// the buffer frees its memory when the last reference goes.
public final class FloatBuffer: @unchecked Sendable {
    public let ptr: UnsafeMutablePointer<Float>
    public let count: Int

    /// Keeps freed activation blocks in the heap for reuse. glibc serves blocks over 128 KB with fresh
    /// mmaps and returns them on free, so every block of every forward pass would fault its pages in again.
    static let heapTuned: Bool = {
        #if canImport(Glibc)
        // mallopt is not in Swift's Glibc module; M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3 (malloc.h).
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") {
            let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
            _ = mallopt(-3, 512 << 20)
            _ = mallopt(-1, 1 << 30)
        }
        #endif
        return true
    }()

    /// A zero-filled buffer of `count` floats.
    public init(count: Int) {
        _ = FloatBuffer.heapTuned
        self.count = count
        ptr = .allocate(capacity: max(count, 1))
        ptr.initialize(repeating: 0, count: max(count, 1))
    }

    /// A buffer whose contents are undefined until written: for outputs that are filled at once.
    public init(uninitialized count: Int) {
        _ = FloatBuffer.heapTuned
        self.count = count
        ptr = .allocate(capacity: max(count, 1))
    }

    /// A buffer holding a copy of `values`.
    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { ptr.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { ptr.deallocate() }

    /// A copy of the contents as an array.
    public var array: [Float] { Array(UnsafeBufferPointer(start: ptr, count: count)) }

    /// A copy of `count` floats starting at `offset`.
    public func slice(_ offset: Int, _ count: Int) -> [Float] {
        precondition(offset >= 0 && offset + count <= self.count)
        return Array(UnsafeBufferPointer(start: ptr + offset, count: count))
    }

    public subscript(i: Int) -> Float {
        get { ptr[i] }
        set { ptr[i] = newValue }
    }

    /// Sets every element to zero.
    public func zero() { ptr.update(repeating: 0, count: count) }
}
