// System-call batching under libmosquitto (see include/SocketBatching.h for why).
//
// How: this file defines read(2), write(2), close(2) and socketpair(2). An executable's
// definitions come first in the dynamic linker's lookup, so libmosquitto's calls (and every
// other read, write, close and socketpair in the process) land here. A descriptor that is not
// registered, muted or captured goes straight to the system call: one bounds check, one atomic
// load (and for write, one thread-local compare) more.
//
// Reading: for a registered socket, read hands out bytes from a 64 KiB buffer and refills it
// with one read when it is empty. Errors and EAGAIN come from the real read, only when the
// buffer is empty, exactly as before.
//
// Writing: while a registered socket's writes are gathered (takt_gather_begin … _end), write
// appends to the socket's out buffer and says it wrote; _end sends the buffer with one write.
// What the socket does not take (it is full) stays pending, in order: a later write to that
// socket first sends the pending bytes, and answers EAGAIN while it cannot — what a full socket
// answers, so libmosquitto keeps its packet and tries again.
//
// Muting: takt_mute_begin(fd) makes this thread's writes to fd succeed without a system call
// until takt_mute_end(). For libmosquitto's internal wake-up socketpair, whose only reader is
// mosquitto_loop: while the receiving loop runs on this thread instead, the byte it would write
// per queued packet wakes nobody (and the pair is full anyway: the write fails with EAGAIN).
//
// close drops both buffers before the descriptor is closed, so a number the kernel gives out
// again is never served, or sent, someone else's bytes.
//
// Invariants: a registered descriptor is read by one thread at a time, and written by one
// thread at a time (libmosquitto's network thread for that client: with threading on, only
// mosquitto_loop_write and mosquitto_loop write its socket); bytes are handed out once, in
// order, and sent once, in order; nothing is buffered for a descriptor that is not registered.
#undef _FORTIFY_SOURCE  // read() is defined here; a fortified unistd.h would define it inline too
#define _GNU_SOURCE
#include "SocketBatching.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { BATCH_MAX_FDS = 65536, BATCH_CAPACITY = 65536 };

/// One registered socket: what was read ahead and not handed out, and what was written and not
/// sent. Each half belongs to the one thread that reads, or writes, the socket.
struct socket_batch {
    size_t in_start;  // next byte to hand out
    size_t in_end;    // one past the last byte read ahead
    size_t out_start; // next byte to send
    size_t out_end;   // one past the last byte gathered
    int gathering;    // writes append (between takt_gather_begin and takt_gather_end)
    unsigned char in[BATCH_CAPACITY];
    unsigned char out[BATCH_CAPACITY];
};

static _Atomic(struct socket_batch *) batch_table[BATCH_MAX_FDS];

/// The descriptor this thread's writes are muted for (-1: none).
static _Thread_local int muted_fd = -1;
/// Whether socketpair(2) records the pairs this thread creates, and the last one it recorded.
static _Thread_local int capturing;
static _Thread_local int captured_pairs;
static _Thread_local int captured[2];

static ssize_t system_read(int fd, void *buffer, size_t count) {
    return (ssize_t)syscall(SYS_read, fd, buffer, count);
}

static ssize_t system_write(int fd, const void *buffer, size_t count) {
    return (ssize_t)syscall(SYS_write, fd, buffer, count);
}

static struct socket_batch *registered(int fd) {
    if (fd < 0 || fd >= BATCH_MAX_FDS) return NULL;
    return atomic_load_explicit(&batch_table[fd], memory_order_acquire);
}

int takt_batching_register(int fd) {
    if (fd < 0 || fd >= BATCH_MAX_FDS) return -1;
    if (registered(fd)) return 0;
    struct socket_batch *fresh = malloc(sizeof *fresh);
    if (!fresh) return -1;
    fresh->in_start = fresh->in_end = 0;
    fresh->out_start = fresh->out_end = 0;
    fresh->gathering = 0;
    struct socket_batch *expected = NULL;
    if (!atomic_compare_exchange_strong(&batch_table[fd], &expected, fresh)) free(fresh);
    return 0;
}

size_t takt_readahead_buffered(int fd) {
    struct socket_batch *b = registered(fd);
    return b ? b->in_end - b->in_start : 0;
}

ssize_t read(int fd, void *buffer, size_t count) {
    struct socket_batch *b = registered(fd);
    if (!b || count == 0) return system_read(fd, buffer, count);
    if (b->in_start == b->in_end) {
        if (count >= BATCH_CAPACITY) return system_read(fd, buffer, count);
        ssize_t got = system_read(fd, b->in, BATCH_CAPACITY);
        if (got <= 0) return got;  // EOF, or the error (EAGAIN…) in errno, as a direct read
        b->in_start = 0;
        b->in_end = (size_t)got;
    }
    size_t available = b->in_end - b->in_start;
    size_t handed = count < available ? count : available;
    memcpy(buffer, b->in + b->in_start, handed);
    b->in_start += handed;
    return (ssize_t)handed;
}

/// Sends what is pending until the socket takes no more. 0: nothing left, or the rest waits for
/// the socket (EAGAIN); -1: the socket failed (errno), and the pending bytes are dropped — the
/// connection is lost, and nothing after them could be sent in order.
static int send_pending(int fd, struct socket_batch *b) {
    while (b->out_start < b->out_end) {
        ssize_t sent = system_write(fd, b->out + b->out_start, b->out_end - b->out_start);
        if (sent < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
            b->out_start = b->out_end = 0;
            return -1;
        }
        b->out_start += (size_t)sent;
    }
    b->out_start = b->out_end = 0;
    return 0;
}

int takt_gather_begin(int fd) {
    struct socket_batch *b = registered(fd);
    if (!b) return -1;
    b->gathering = 1;
    return 0;
}

int takt_gather_end(int fd) {
    struct socket_batch *b = registered(fd);
    if (!b) return 0;
    b->gathering = 0;
    return send_pending(fd, b);
}

size_t takt_gather_pending(int fd) {
    struct socket_batch *b = registered(fd);
    return b ? b->out_end - b->out_start : 0;
}

int takt_gather_flush(int fd) {
    struct socket_batch *b = registered(fd);
    return b ? send_pending(fd, b) : 0;
}

ssize_t write(int fd, const void *buffer, size_t count) {
    if (fd == muted_fd) return (ssize_t)count;
    struct socket_batch *b = registered(fd);
    if (!b || count == 0) return system_write(fd, buffer, count);
    if (!b->gathering) {
        // Bytes gathered earlier go first; while the socket cannot take them, neither can it
        // take these.
        if (b->out_start < b->out_end) {
            if (send_pending(fd, b) != 0) return -1;
            if (b->out_start < b->out_end) {
                errno = EAGAIN;
                return -1;
            }
        }
        return system_write(fd, buffer, count);
    }
    if (b->out_end == BATCH_CAPACITY) {
        // Full: make room by sending (the socket may take it), and move what it left to the front.
        if (send_pending(fd, b) != 0) return -1;
        if (b->out_start > 0) {
            memmove(b->out, b->out + b->out_start, b->out_end - b->out_start);
            b->out_end -= b->out_start;
            b->out_start = 0;
        }
        if (b->out_end == BATCH_CAPACITY) {
            errno = EAGAIN;
            return -1;
        }
    }
    size_t room = BATCH_CAPACITY - b->out_end;
    size_t taken = count < room ? count : room;
    memcpy(b->out + b->out_end, buffer, taken);
    b->out_end += taken;
    return (ssize_t)taken;
}

void takt_mute_begin(int fd) { muted_fd = fd; }

void takt_mute_end(void) { muted_fd = -1; }

void takt_socketpair_capture_begin(void) {
    capturing = 1;
    captured_pairs = 0;
}

int takt_socketpair_capture_end(int pair[2]) {
    capturing = 0;
    if (captured_pairs != 1) return -1;
    pair[0] = captured[0];
    pair[1] = captured[1];
    return 0;
}

int socketpair(int domain, int type, int protocol, int pair[2]) {
    int rc = (int)syscall(SYS_socketpair, domain, type, protocol, pair);
    if (rc == 0 && capturing) {
        captured_pairs += 1;
        captured[0] = pair[0];
        captured[1] = pair[1];
    }
    return rc;
}

int close(int fd) {
    if (fd >= 0 && fd < BATCH_MAX_FDS) {
        struct socket_batch *b = atomic_exchange_explicit(&batch_table[fd], NULL, memory_order_acq_rel);
        free(b);
    }
    if (fd == muted_fd) muted_fd = -1;
    return (int)syscall(SYS_close, fd);
}
