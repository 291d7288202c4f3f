// Read-ahead under libmosquitto (see include/ReadAhead.h for why).
//
// How: this file defines read(2) and close(2). An executable's definitions come first in the
// dynamic linker's lookup, so libmosquitto's calls (and every other read and close in the
// process) land here. For a descriptor that is not registered they go straight to the system
// call: one bounds check and one atomic load more. For a registered socket, read hands out
// bytes from the buffer and refills it with one read of up to 64 KiB when it is empty; errors
// and EAGAIN come from the real read, only when the buffer is empty, exactly as before. close
// drops the buffer before the descriptor is closed, so a number the kernel gives out again is
// never served someone else's bytes.
//
// Invariants: a registered descriptor is read by one thread at a time (libmosquitto's network
// thread for that client); bytes are handed out once, in order; nothing is buffered for a
// descriptor that is not registered.
#undef _FORTIFY_SOURCE  // read() is defined here; a fortified unistd.h would define it inline too
#define _GNU_SOURCE
#include "ReadAhead.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { READAHEAD_MAX_FDS = 65536, READAHEAD_CAPACITY = 65536 };

struct readahead_buffer {
    size_t start;  // next byte to hand out
    size_t end;    // one past the last byte read ahead
    unsigned char bytes[READAHEAD_CAPACITY];
};

static _Atomic(struct readahead_buffer *) readahead_table[READAHEAD_MAX_FDS];

static ssize_t system_read(int fd, void *buffer, size_t count) {
    return (ssize_t)syscall(SYS_read, fd, buffer, count);
}

static struct readahead_buffer *registered(int fd) {
    if (fd < 0 || fd >= READAHEAD_MAX_FDS) return NULL;
    return atomic_load_explicit(&readahead_table[fd], memory_order_acquire);
}

int takt_readahead_register(int fd) {
    if (fd < 0 || fd >= READAHEAD_MAX_FDS) return -1;
    if (registered(fd)) return 0;
    struct readahead_buffer *fresh = malloc(sizeof *fresh);
    if (!fresh) return -1;
    fresh->start = 0;
    fresh->end = 0;
    struct readahead_buffer *expected = NULL;
    if (!atomic_compare_exchange_strong(&readahead_table[fd], &expected, fresh)) free(fresh);
    return 0;
}

size_t takt_readahead_buffered(int fd) {
    struct readahead_buffer *b = registered(fd);
    return b ? b->end - b->start : 0;
}

ssize_t read(int fd, void *buffer, size_t count) {
    struct readahead_buffer *b = registered(fd);
    if (!b || count == 0) return system_read(fd, buffer, count);
    if (b->start == b->end) {
        if (count >= READAHEAD_CAPACITY) return system_read(fd, buffer, count);
        ssize_t got = system_read(fd, b->bytes, READAHEAD_CAPACITY);
        if (got <= 0) return got;  // EOF, or the error (EAGAIN…) in errno, as a direct read
        b->start = 0;
        b->end = (size_t)got;
    }
    size_t available = b->end - b->start;
    size_t handed = count < available ? count : available;
    memcpy(buffer, b->bytes + b->start, handed);
    b->start += handed;
    return (ssize_t)handed;
}

int close(int fd) {
    if (fd >= 0 && fd < READAHEAD_MAX_FDS) {
        struct readahead_buffer *b = atomic_exchange_explicit(&readahead_table[fd], NULL, memory_order_acq_rel);
        free(b);
    }
    return (int)syscall(SYS_close, fd);
}
