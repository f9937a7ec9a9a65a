/* images/unpack*.c: what the layer reader (unpack-stream.c) offers the entry writer
 * (unpack.c).  Not part of the images/ interface: image_unpack() in image.h is. */
#ifndef NOOK_UNPACK_INTERNAL_H
#define NOOK_UNPACK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "images/image.h"

/* The uncompressed tar of a layer, in chunks: reads FD, detects gzip (1f 8b) or zstd
 * (28 b5 2f fd) from its first bytes (anything else is taken as a plain tar), decompresses and
 * hashes what it hands out.  With THREADED, reading, decompression and hashing run in a second
 * thread that fills a small ring of buffers ahead of the consumer. */
struct unpack_stream;

int unpack_stream_open(int fd, bool threaded, struct unpack_stream **ret, struct nook_error **err);

/* The next chunk in *ret_buf, valid until the next call: returns its length, 0 at the end of
 * the stream, or -1 when reading or decompressing failed (see unpack_stream_error()).
 * *ret_in_done is the count of compressed bytes consumed to produce it. */
ssize_t unpack_stream_next(struct unpack_stream *s, const void **ret_buf, uint64_t *ret_in_done);

/* The failure that made unpack_stream_next() return -1 ("gzip: unexpected end of stream"), or
 * NULL.  Owned by the stream. */
const struct nook_error *unpack_stream_error(const struct unpack_stream *s);

/* After the tar parser failed: for a compressed stream, reads on to see whether the
 * decompression is what failed (a truncated or corrupt download makes the parser see a damaged
 * tar first); returns that failure, or NULL. */
const struct nook_error *unpack_stream_check(struct unpack_stream *s);

/* Reads the rest of the stream (the tar's padding after its end marker is part of the diff-id)
 * and writes "sha256:HEX" of everything uncompressed into ret_diff_id.  *ret_in_done gets the
 * compressed size. */
int unpack_stream_finish(struct unpack_stream *s, char ret_diff_id[IMAGE_DIGEST_LEN + 1],
                         uint64_t *ret_in_done, struct nook_error **err);

/* Stops the reader thread, if any, and frees everything. */
void unpack_stream_free(struct unpack_stream *s);
static inline void unpack_stream_freep(struct unpack_stream **s)
{
  unpack_stream_free(*s);
}
#define _cleanup_unpack_stream_ _cleanup_(unpack_stream_freep)

#endif
