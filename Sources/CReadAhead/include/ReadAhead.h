#ifndef TAKT_READAHEAD_H
#define TAKT_READAHEAD_H

#include <stddef.h>

/// Read-ahead for libmosquitto's sockets (see ReadAhead.c): libmosquitto 2.0 reads each MQTT
/// packet with 3–4 read(2) calls (the command byte, each remaining-length byte, the body). Once
/// a socket is registered, read(2) on it is served from a 64 KiB buffer filled by one read(2)
/// of the socket, so a burst of packets costs one system call instead of ~4 per packet.
///
/// Returns 0, or -1 when `fd` is out of range or memory is short (reads then stay direct).
/// Idempotent. The registration ends when the descriptor is closed (close(2) is interposed too).
int takt_readahead_register(int fd);

/// Bytes read from `fd` ahead and not handed out yet: while > 0 the socket may look idle to
/// poll(2) though a packet is ready, so the caller reads before it polls.
size_t takt_readahead_buffered(int fd);

#endif
