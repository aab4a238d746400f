// libdeflate: whole-buffer DEFLATE, 2-4x faster than zlib at inflating and 1.5-2.5x at deflating
// the same chunk for a same or smaller result (Benchmarks/results/deflate.md). Its zlib-wrapped
// streams are standard, so HDF5's gzip filter (zlib) in every other reader reads them.
#ifndef LATENT_CDEFLATE_SHIM_H
#define LATENT_CDEFLATE_SHIM_H
#include <libdeflate.h>
#endif
