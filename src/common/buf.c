/* buf.c - shared refcounted buffers, growable buffers and aborting allocators. */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Out of memory is not recoverable in a server that would then fail every request: stop loudly
 * (redis zmalloc_oom_handler). */
static void buf_oom(size_t n)
{
    fprintf(stderr, "herald: out of memory allocating %zu bytes\n", n);
    fflush(stderr);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        buf_oom(n);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        buf_oom(n * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        buf_oom(n);
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = xmalloc(len + 1);
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

buf_shared_t *buf_shared_new(size_t len)
{
    if (len > UINT32_MAX)
        buf_oom(len);
    buf_shared_t *b = xmalloc(sizeof(*b) + len);
    __atomic_store_n(&b->refs, 1, __ATOMIC_RELAXED);
    b->len = (uint32_t)len;
    return b;
}

buf_shared_t *buf_shared_ref(buf_shared_t *b)
{
    /* Taking a reference needs no ordering: the caller already holds one. */
    __atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
    return b;
}

void buf_shared_unref(buf_shared_t *b)
{
    if (b == NULL)
        return;
    /* Release on every drop and acquire on the last, so all writes made by other holders happen
     * before the free. */
    if (__atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(b);
}

void buf_init(buf_t *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_deinit(buf_t *b)
{
    free(b->data);
    buf_init(b);
}

uint8_t *buf_reserve(buf_t *b, size_t n)
{
    if (n > SIZE_MAX - b->len)
        buf_oom(SIZE_MAX);
    size_t need = b->len + n;
    if (need > b->cap) {
        /* Doubling keeps appends amortised O(1). */
        size_t cap = b->cap ? b->cap : 64;
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        b->data = xrealloc(b->data, cap);
        b->cap = cap;
    }
    return b->data + b->len;
}

void buf_append(buf_t *b, const void *data, size_t len)
{
    if (len == 0)
        return;
    memcpy(buf_reserve(b, len), data, len);
    b->len += len;
}
