import Dispatch

/// Splits 0..<count into `chunks` contiguous ranges and runs them on all cores.
///
/// The elementwise kernels are memory-bound and short; two or four chunks keep both
/// cores busy without the overhead of a task per row.
public func parallelRanges(_ count: Int, chunks: Int = Parallel.cores, _ body: (Range<Int>) -> Void) {
    let n = max(1, min(chunks, count))
    if n == 1 { body(0..<count); return }
    DispatchQueue.concurrentPerform(iterations: n) { i in
        let lo = count * i / n, hi = count * (i + 1) / n
        if lo < hi { body(lo..<hi) }
    }
}

/// The machine's parallelism.
public enum Parallel {
    /// Active processor count (2 on the project's machines).
    public static let cores = max(1, ProcessInfo_activeProcessorCount())
}

#if canImport(Glibc)
import Glibc
private func ProcessInfo_activeProcessorCount() -> Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
#else
import Foundation
private func ProcessInfo_activeProcessorCount() -> Int { ProcessInfo.processInfo.activeProcessorCount }
#endif
