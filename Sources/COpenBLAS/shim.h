/* OpenBLAS's own cblas.h (found through pkg-config "openblas") also declares
   openblas_get_corename, openblas_set_num_threads and friends. */
#include <cblas.h>
