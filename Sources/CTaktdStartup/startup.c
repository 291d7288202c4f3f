// taktd's first instruction: a constructor that runs before the Swift runtime's and
// Foundation's start-up code of this executable, installing a handler that only notes SIGTERM or
// SIGINT (async-signal-safe: one sig_atomic_t). A signal sent while the daemon starts is then
// remembered instead of killing it; main.swift reads the note once its own signal handling
// (a Dispatch signal source) is registered, and shuts down cleanly. Before this constructor
// only the dynamic loader runs, and a signal takes the kernel's default action, as for any
// process.
#include <signal.h>
#include <string.h>
#include "CTaktdStartup.h"

static volatile sig_atomic_t startup_signal = 0;
static int handler_installed = 0;

static void takt_note_startup_signal(int signo) { startup_signal = signo; }

__attribute__((constructor)) static void takt_install_startup_handler(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = takt_note_startup_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    handler_installed = sigaction(SIGTERM, &action, NULL) == 0 && sigaction(SIGINT, &action, NULL) == 0;
}

int takt_startup_handler_installed(void) { return handler_installed; }

int takt_startup_signal_received(void) { return startup_signal; }
