// Signal handling that must be async-signal-safe, hence C.
// - SIGINT/SIGTERM: the output being written (a hidden temporary file) is unlinked and the process
//   exits with 128 + signal (130 for Ctrl-C), so an interrupted run never leaves a partial file.
// - SIGSEGV/SIGBUS/SIGILL/SIGFPE/SIGABRT/SIGTRAP: one `latent: …` line instead of a backtrace.
//   While an input file is being decoded by a C library (libhdf5 1.10 can crash on corrupted
//   global heaps), the line names that file as damaged and the exit code is 2 (bad input);
//   otherwise it is an internal failure, exit 1. The pending output is unlinked either way.
#ifndef LATENT_CRUNTIME_H
#define LATENT_CRUNTIME_H
void lr_install_interrupt_cleanup(void);
void lr_set_pending_output(const char *path);
void lr_clear_pending_output(void);
void lr_set_current_input(const char *path);
void lr_clear_current_input(void);
// copy_file_range(2) (declared by glibc only under _GNU_SOURCE): bytes copied, or -1 with errno.
#include <stddef.h>
#include <sys/types.h>
long lr_copy_file_range(int in, long long *in_off, int out, long long *out_off, size_t len);
#endif
