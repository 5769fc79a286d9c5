// OpenBLAS's CBLAS interface (Debian: libopenblas-dev).
#include <cblas.h>
// Thread control, so benchmarks and tests can pin the thread count.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
