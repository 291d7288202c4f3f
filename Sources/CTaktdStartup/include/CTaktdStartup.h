#ifndef C_TAKTD_STARTUP_H
#define C_TAKTD_STARTUP_H

/// Whether the load-time constructor of this library blocked SIGTERM and SIGINT in the main
/// thread (1) before any other code of the process ran; 0 if it did not run.
int takt_startup_signals_blocked(void);

#endif
