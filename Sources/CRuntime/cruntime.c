#include "cruntime.h"
#include <signal.h>
#include <string.h>
#include <unistd.h>

static char pending[4096];
static volatile sig_atomic_t has_pending = 0;

static void on_signal(int sig) {
    if (has_pending) unlink(pending);      /* async-signal-safe */
    _exit(128 + sig);
}

void lr_install_interrupt_cleanup(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void lr_set_pending_output(const char *path) {
    has_pending = 0;
    strncpy(pending, path, sizeof pending - 1);
    pending[sizeof pending - 1] = 0;
    has_pending = 1;
}

void lr_clear_pending_output(void) { has_pending = 0; }
