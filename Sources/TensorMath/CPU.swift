// What this CPU can run, asked once.

import CKernels

enum CPU {
    /// Whether the CKernels AVX-512 kernels run here (x86-64 with AVX-512F); the routes that use them fall
    /// back to OpenBLAS and the Swift loops elsewhere.
    static let avx512 = cdam_avx512_available() != 0
}
