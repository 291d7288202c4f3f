#ifndef C_TAKTD_STARTUP_H
#define C_TAKTD_STARTUP_H

/// Whether the load-time constructor of this library ran (1) — it installs the start-up
/// handler for SIGTERM and SIGINT before any other code of taktd.
int takt_startup_handler_installed(void);

/// The signal (SIGTERM or SIGINT) the start-up handler caught before the daemon's own signal
/// handling took over, or 0.
int takt_startup_signal_received(void);

#endif
