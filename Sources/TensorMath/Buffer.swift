import CKernels

/// A heap block of floats with a stable address: the activations and weights of the model.
///
/// Kernels take raw pointers (`ptr`) so the hot loops have no copy-on-write checks;
/// the buffer frees its memory when the last reference goes.
public final class FloatBuffer: @unchecked Sendable {
    public let ptr: UnsafeMutablePointer<Float>
    public let count: Int

    /// Whether freed activation blocks stay in the heap for reuse (CKernels/heap.c sets it up at load time;
    /// reading it here keeps that file linked in).
    public static let heapTuned = cdam_heap_tuned() != 0

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
