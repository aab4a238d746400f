#ifndef LATENT_CZLIB_SHIM_H
#define LATENT_CZLIB_SHIM_H
#include <zlib.h>
#endif
