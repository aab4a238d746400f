// zlib vs libdeflate on latent's own chunk format: 1 MiB chunks, HDF5 byte shuffle, one thread.
// Times are the thread's CPU time (the host is shared; wall time there measures the neighbours).
// Usage: deflate_bench FILE ELEMENT_SIZE [LEVELS...]   (prints a TSV row per library and level)
// Build: cc -O2 Benchmarks/deflate_bench.c -lz -ldeflate -o deflate_bench
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

static void shuffle(const unsigned char *src, size_t n, int es, unsigned char *dst) {
    size_t m = n / es;
    for (int b = 0; b < es; b++)
        for (size_t i = 0; i < m; i++) dst[b * m + i] = src[i * es + b];
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s FILE ELEMENT_SIZE [LEVELS...]\n", argv[0]); return 2; }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 2; }
    fseek(f, 0, SEEK_END); size_t n = ftell(f); fseek(f, 0, SEEK_SET);
    unsigned char *raw = malloc(n);
    if (fread(raw, 1, n, f) != n) return 2;
    fclose(f);
    int es = atoi(argv[2]);
    size_t chunk = (1 << 20) / es * es;
    size_t nchunks = (n + chunk - 1) / chunk;
    unsigned char *shuf = malloc(nchunks * chunk);
    memset(shuf, 0, nchunks * chunk);
    for (size_t c = 0; c < nchunks; c++) {
        size_t have = c * chunk + chunk <= n ? chunk : n - c * chunk;
        unsigned char tmp[1 << 20]; memset(tmp, 0, chunk); memcpy(tmp, raw + c * chunk, have);
        shuffle(tmp, chunk, es, shuf + c * chunk);
    }
    size_t bound = compressBound(chunk) + 64;
    unsigned char **out = malloc(nchunks * sizeof *out);
    size_t *outlen = malloc(nchunks * sizeof *outlen);
    for (size_t c = 0; c < nchunks; c++) out[c] = malloc(bound);
    unsigned char *back = malloc(chunk);
    int nlev = argc - 3;
    int defaults[] = {1, 2, 4, 6, 9};
    printf("library\tlevel\tcompress_MBps\tdecompress_MBps\tratio\n");
    for (int lib = 0; lib < 2; lib++) {
        for (int li = 0; li < (nlev ? nlev : 5); li++) {
            int level = nlev ? atoi(argv[3 + li]) : defaults[li];
            double best_c = 1e9, best_d = 1e9; size_t total = 0;
            for (int rep = 0; rep < 2; rep++) {
                double t0 = now();
                total = 0;
                struct libdeflate_compressor *cmp = lib ? libdeflate_alloc_compressor(level) : NULL;
                for (size_t c = 0; c < nchunks; c++) {
                    if (lib) {
                        outlen[c] = libdeflate_zlib_compress(cmp, shuf + c * chunk, chunk, out[c], bound);
                    } else {
                        uLongf dl = bound;
                        compress2(out[c], &dl, shuf + c * chunk, chunk, level);
                        outlen[c] = dl;
                    }
                    total += outlen[c];
                }
                if (cmp) libdeflate_free_compressor(cmp);
                double t1 = now();
                // Decompress each library's output with the same library (both read standard zlib streams).
                struct libdeflate_decompressor *dec = lib ? libdeflate_alloc_decompressor() : NULL;
                for (size_t c = 0; c < nchunks; c++) {
                    if (lib) {
                        size_t got;
                        if (libdeflate_zlib_decompress(dec, out[c], outlen[c], back, chunk, &got) != LIBDEFLATE_SUCCESS) { fprintf(stderr, "bad\n"); return 1; }
                    } else {
                        uLongf dl = chunk;
                        if (uncompress(back, &dl, out[c], outlen[c]) != Z_OK) { fprintf(stderr, "bad\n"); return 1; }
                    }
                    if (memcmp(back, shuf + c * chunk, chunk) != 0) { fprintf(stderr, "mismatch\n"); return 1; }
                }
                if (dec) libdeflate_free_decompressor(dec);
                double t2 = now();
                if (t1 - t0 < best_c) best_c = t1 - t0;
                if (t2 - t1 < best_d) best_d = t2 - t1;
            }
            // Cross-check: zlib inflates libdeflate's streams (what HDF5 readers will do).
            if (lib) for (size_t c = 0; c < nchunks; c++) {
                uLongf dl = chunk;
                if (uncompress(back, &dl, out[c], outlen[c]) != Z_OK || memcmp(back, shuf + c * chunk, chunk)) { fprintf(stderr, "zlib cannot read libdeflate\n"); return 1; }
            }
            printf("%s\t%d\t%.0f\t%.0f\t%.3f\n", lib ? "libdeflate" : "zlib", level, n / best_c / 1e6, n / best_d / 1e6, (double)n / total);
            fflush(stdout);
        }
    }
    return 0;
}
