// taktd's first instruction: block SIGTERM and SIGINT before the Swift runtime, Foundation or
// any thread starts, so that a signal sent while the process is still loading stays pending
// instead of killing it. Threads created later inherit the mask. The daemon then traps both
// with a Dispatch signal source (swift-service-lifecycle's UnixSignalsSequence), which on Linux
// reads them from a signalfd: blocked signals are exactly what a signalfd delivers, so the
// pending one is read as soon as the source is registered.
#include <signal.h>
#include <pthread.h>
#include "CTaktdStartup.h"

static int signals_blocked = 0;

__attribute__((constructor)) static void takt_block_shutdown_signals(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    signals_blocked = pthread_sigmask(SIG_BLOCK, &set, NULL) == 0;
}

int takt_startup_signals_blocked(void) { return signals_blocked; }
