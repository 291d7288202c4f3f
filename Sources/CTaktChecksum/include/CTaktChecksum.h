#ifndef C_TAKT_CHECKSUM_H
#define C_TAKT_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/// CRC-32C (Castagnoli) of `length` bytes at `bytes`, continuing from `crc` (0 to start).
/// Uses the SSE 4.2 `crc32` instruction where the CPU has it, a table otherwise; both give the
/// same value.
uint32_t takt_crc32c(uint32_t crc, const void *bytes, size_t length);

#endif
