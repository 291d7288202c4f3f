#ifndef TAKT_SOCKET_BATCHING_H
#define TAKT_SOCKET_BATCHING_H

#include <stddef.h>

// System-call batching for libmosquitto's sockets (see SocketBatching.c for how). libmosquitto
// 2.0 reads each MQTT packet with 3–4 read(2) calls (the command byte, each remaining-length
// byte, the body), writes each PUBACK with a write(2) of its own, and for each packet it
// queues writes one byte to an internal wake-up socketpair. A receiving client's network
// thread (MQTT's pollOnce) uses the calls below to turn a burst of packets into one read and
// one write.

/// Registers a socket: read(2) on it is served from a 64 KiB buffer filled by one read(2) of
/// the socket, and its writes can be gathered (takt_gather_begin). Returns 0, or -1 when `fd`
/// is out of range or memory is short (reads and writes then stay direct). Idempotent. The
/// registration ends when the descriptor is closed (close(2) is interposed too).
int takt_batching_register(int fd);

/// Bytes read from `fd` ahead and not handed out yet: while > 0 the socket may look idle to
/// poll(2) though a packet is ready, so the caller reads before it polls.
size_t takt_readahead_buffered(int fd);

/// From now on write(2) on the registered socket `fd` appends to its out buffer (64 KiB) and
/// returns at once; a full buffer is sent first, and answers EAGAIN if the socket takes
/// nothing. -1 when `fd` is not registered (writes stay direct).
int takt_gather_begin(int fd);

/// Ends gathering and sends what was gathered with one write(2) (more only past 64 KiB).
/// Returns 0 when everything went out or the rest waits for the socket to take it
/// (takt_gather_pending > 0: poll for POLLOUT, then takt_gather_flush); -1 with errno when the
/// socket failed, and the gathered bytes are dropped (the connection is lost).
int takt_gather_end(int fd);

/// Bytes gathered for `fd` and not sent yet (the socket was full). Until they are sent, a
/// direct write(2) to `fd` sends them first, or fails with EAGAIN.
size_t takt_gather_pending(int fd);

/// Sends pending gathered bytes; 0 or -1 as takt_gather_end.
int takt_gather_flush(int fd);

/// Until takt_mute_end, this thread's write(2) calls on `fd` return their count without a
/// system call. For libmosquitto's wake-up socketpair while the thread that would read it is
/// the one writing.
void takt_mute_begin(int fd);
void takt_mute_end(void);

/// Records the socketpair(2) this thread creates until takt_socketpair_capture_end, which
/// stores it in `pair` and returns 0 when exactly one was created (-1 otherwise). Around
/// mosquitto_new, it is the client's wake-up pair: `pair[1]` is the end it writes.
void takt_socketpair_capture_begin(void);
int takt_socketpair_capture_end(int pair[2]);

#endif
