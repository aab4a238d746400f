#define _GNU_SOURCE
#include "cruntime.h"
#include <signal.h>
#include <string.h>
#include <unistd.h>

static char pending[4096];
static volatile sig_atomic_t has_pending = 0;
static char input[4096];
static volatile sig_atomic_t has_input = 0;

static void say(const char *s) { ssize_t r = write(2, s, strlen(s)); (void)r; }

static void on_interrupt(int sig) {
    if (has_pending) unlink(pending);      /* async-signal-safe */
    _exit(128 + sig);
}

static void on_fault(int sig) {
    if (has_pending) unlink(pending);
    if (has_input) {
        say("latent: ");
        say(input);
        say(": damaged file: the reader failed while decoding it (corrupted or truncated?)\n");
        _exit(2);
    }
    say("latent: internal failure (fatal signal); please report it with the command that caused it\n");
    _exit(1);
}

void lr_install_interrupt_cleanup(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct sigaction fa;
    memset(&fa, 0, sizeof fa);
    fa.sa_handler = on_fault;
    sigemptyset(&fa.sa_mask);
    int faults[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP};
    for (unsigned i = 0; i < sizeof faults / sizeof faults[0]; i++) sigaction(faults[i], &fa, NULL);
}

void lr_set_pending_output(const char *path) {
    has_pending = 0;
    strncpy(pending, path, sizeof pending - 1);
    pending[sizeof pending - 1] = 0;
    has_pending = 1;
}

void lr_clear_pending_output(void) { has_pending = 0; }

void lr_set_current_input(const char *path) {
    has_input = 0;
    strncpy(input, path, sizeof input - 1);
    input[sizeof input - 1] = 0;
    has_input = 1;
}

void lr_clear_current_input(void) { has_input = 0; }

long lr_copy_file_range(int in, long long *in_off, int out, long long *out_off, size_t len) {
    loff_t a = (loff_t)*in_off, b = (loff_t)*out_off;
    ssize_t n = copy_file_range(in, &a, out, &b, len, 0);
    *in_off = a; *out_off = b;
    return (long)n;
}
