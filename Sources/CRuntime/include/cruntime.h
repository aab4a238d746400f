// Interrupt handling that must be async-signal-safe, hence C: on SIGINT/SIGTERM the output
// being written (a hidden temporary file) is unlinked and the process exits with 128 + signal
// (130 for Ctrl-C), so an interrupted run never leaves a partial file behind.
#ifndef LATENT_CRUNTIME_H
#define LATENT_CRUNTIME_H
void lr_install_interrupt_cleanup(void);
void lr_set_pending_output(const char *path);
void lr_clear_pending_output(void);
#endif
