/* buf.h - reference-counted immutable byte buffers shared across threads.
 *
 * A broadcast payload is encoded once into a buf_shared_t and every socket that writes it holds a
 * reference until its write completes (h2o h2o_mem_alloc_shared). The count is atomic, so comet
 * workers on different threads may share one buffer.
 */
#ifndef HERALD_BUF_H
#define HERALD_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct buf_shared_s {
    int refs; /* atomic; touch only through buf_shared_ref/unref */
    uint32_t len;
    uint8_t data[];
} buf_shared_t;

/* Allocates a buffer of len bytes (contents uninitialised) with one reference. Aborts on OOM. */
buf_shared_t *buf_shared_new(size_t len);
/* Adds a reference; returns b. */
buf_shared_t *buf_shared_ref(buf_shared_t *b);
/* Drops a reference; frees the buffer on the last one. NULL is a no-op. */
void buf_shared_unref(buf_shared_t *b);

/* Growable byte buffer owned by one thread (encoding replies, JSON bodies). */
typedef struct buf_s {
    uint8_t *data;
    size_t len;
    size_t cap;
} buf_t;

void buf_init(buf_t *b);
void buf_deinit(buf_t *b);
/* Appends; aborts on OOM. */
void buf_append(buf_t *b, const void *data, size_t len);
/* Makes room for n more bytes and returns a pointer to them; caller then adds n to b->len. */
uint8_t *buf_reserve(buf_t *b, size_t n);

/* Allocation helpers that abort with a message on out-of-memory (redis zmalloc). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
