/* http_client.c - one blocking HTTP/1.1 request per connection (see http_client.h). */
#define _GNU_SOURCE /* memmem */
#include "http_client.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "client_net.h"
#include "herald_err.h"

/* Response parsing state. Once the head is parsed its bytes are dropped from `raw`, and chunked
 * bodies drop each chunk once decoded, so `raw` never holds more than one chunk plus a head. */
typedef struct http_client_resp_s {
    buf_t raw;     /* received bytes not yet consumed */
    int head_done; /* status line and headers parsed */
    int status;
    int no_body; /* HEAD, 1xx, 204, 304 */
    int chunked;
    int64_t content_length; /* -1: not given */
    buf_t body;             /* decoded chunked body */
} http_client_resp_t;

static void http_client_drop(buf_t *b, size_t n)
{
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

/* Parses "Content-Length" strictly: digits only, bounded. */
static int http_client_content_length(const char *v, size_t len, int64_t *out)
{
    int64_t n = 0;
    if (len == 0)
        return HERALD_EPROTO;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return HERALD_EPROTO;
        n = n * 10 + (v[i] - '0');
        if (n > HTTP_CLIENT_MAX_BODY)
            return HERALD_ETOOBIG;
    }
    *out = n;
    return 0;
}

static int http_client_header(http_client_resp_t *r, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    if (colon == NULL || colon == line)
        return HERALD_EPROTO;
    size_t nlen = (size_t)(colon - line);
    const char *v = colon + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (nlen == 14 && strncasecmp(line, "content-length", nlen) == 0)
        return http_client_content_length(v, (size_t)(end - v), &r->content_length);
    if (nlen == 17 && strncasecmp(line, "transfer-encoding", nlen) == 0) {
        /* "chunked" is always the last coding when present (RFC 9112 §6.1). */
        size_t vlen = (size_t)(end - v);
        r->chunked = vlen >= 7 && strncasecmp(end - 7, "chunked", 7) == 0;
        if (!r->chunked)
            return HERALD_EPROTO; /* gzip etc. were not asked for */
    }
    return 0;
}

/* Parses the head once CRLFCRLF is in raw. Returns 1 (need more), 0, or a negative code. */
static int http_client_parse_head(http_client_resp_t *r, int is_head_request)
{
    const char *s = (const char *)r->raw.data;
    const char *end = memmem(s, r->raw.len, "\r\n\r\n", 4);
    if (end == NULL)
        return r->raw.len > HTTP_CLIENT_MAX_HEAD ? HERALD_ETOOBIG : 1;
    size_t head_len = (size_t)(end - s) + 4;
    /* "HTTP/1.x NNN" then a space or the end of the line */
    if (head_len < 16 || memcmp(s, "HTTP/1.", 7) != 0 || s[8] != ' ' || s[9] < '1' || s[9] > '5' ||
        s[10] < '0' || s[10] > '9' || s[11] < '0' || s[11] > '9' || (s[12] != ' ' && s[12] != '\r'))
        return HERALD_EPROTO;
    r->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    const char *line = memmem(s, head_len, "\r\n", 2) + 2;
    while (line < end + 2) {
        const char *eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
        int rc = http_client_header(r, line, (size_t)(eol - line));
        if (rc < 0)
            return rc;
        line = eol + 2;
    }
    r->no_body = is_head_request || r->status < 200 || r->status == 204 || r->status == 304;
    r->head_done = 1;
    http_client_drop(&r->raw, head_len);
    return 0;
}

/* Decodes the whole chunks in raw into body. Returns 1 (need more), 0 (last chunk and trailers
 * seen), or a negative code. */
static int http_client_chunks(http_client_resp_t *r)
{
    for (;;) {
        const char *p = (const char *)r->raw.data;
        size_t avail = r->raw.len;
        const char *eol = avail > 0 ? memmem(p, avail, "\r\n", 2) : NULL;
        if (eol == NULL)
            return avail > HTTP_CLIENT_MAX_HEAD ? HERALD_EPROTO : 1;
        size_t size = 0;
        size_t i = 0;
        for (; p + i < eol; i++) {
            int c = p[i];
            int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            if (d < 0)
                break;
            size = size * 16 + (size_t)d;
            if (size > HTTP_CLIENT_MAX_BODY)
                return HERALD_ETOOBIG;
        }
        /* At least one digit, then the end of the line or a chunk extension. */
        if (i == 0 || (p + i < eol && p[i] != ';' && p[i] != ' ' && p[i] != '\t'))
            return HERALD_EPROTO;
        size_t line = (size_t)(eol - p) + 2;
        if (size == 0) {
            /* The last chunk, then trailer lines up to an empty line. */
            const char *fin = memmem(eol, avail - (size_t)(eol - p), "\r\n\r\n", 4);
            if (fin == NULL)
                return avail > HTTP_CLIENT_MAX_HEAD ? HERALD_EPROTO : 1;
            return 0;
        }
        if (size > HTTP_CLIENT_MAX_BODY - r->body.len)
            return HERALD_ETOOBIG;
        if (avail < line + size + 2)
            return 1;
        if (p[line + size] != '\r' || p[line + size + 1] != '\n')
            return HERALD_EPROTO;
        buf_append(&r->body, p + line, size);
        http_client_drop(&r->raw, line + size + 2);
    }
}

/* Returns 1 while the response is incomplete, 0 when it is complete, or a negative code. */
static int http_client_progress(http_client_resp_t *r, int is_head_request)
{
    if (!r->head_done) {
        int rc = http_client_parse_head(r, is_head_request);
        if (rc != 0)
            return rc;
    }
    if (r->no_body)
        return 0;
    if (r->chunked)
        return http_client_chunks(r);
    if (r->content_length >= 0)
        return r->raw.len >= (size_t)r->content_length ? 0 : 1;
    return r->raw.len > HTTP_CLIENT_MAX_BODY ? HERALD_ETOOBIG : 1; /* ends with the connection */
}

static int http_client_bad_text(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

static int http_client_send_request(int fd, const char *host, int port, const char *method,
                                    const char *path, const char *const *headers, const void *body,
                                    size_t len, int64_t deadline)
{
    buf_t req;
    buf_init(&req);
    char line[64];
    buf_append(&req, method, strlen(method));
    buf_append(&req, " ", 1);
    buf_append(&req, path, strlen(path));
    buf_append(&req, " HTTP/1.1\r\nHost: ", 17);
    buf_append(&req, host, strlen(host));
    int n = snprintf(line, sizeof(line), ":%d\r\nConnection: close\r\n", port);
    buf_append(&req, line, (size_t)n);
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
        buf_append(&req, headers[i], strlen(headers[i]));
        buf_append(&req, "\r\n", 2);
    }
    if (len > 0 || (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
                    strcmp(method, "DELETE") != 0)) {
        n = snprintf(line, sizeof(line), "Content-Length: %zu\r\n", len);
        buf_append(&req, line, (size_t)n);
    }
    buf_append(&req, "\r\n", 2);
    if (len > 0)
        buf_append(&req, body, len);
    int rc = client_net_write_all(fd, req.data, req.len, deadline);
    buf_deinit(&req);
    return rc;
}

static int http_client_exchange(int fd, http_client_resp_t *r, int is_head, int64_t deadline)
{
    int rc = 1;
    while (rc == 1) {
        uint8_t *dst = buf_reserve(&r->raw, 16384);
        ssize_t n = client_net_read(fd, dst, 16384, deadline);
        if (n < 0)
            return (int)n;
        if (n == 0) {
            /* EOF ends a body without framing; anything else was cut short. */
            int close_delimited = r->head_done && !r->chunked && r->content_length < 0;
            return close_delimited ? 0 : HERALD_EPROTO;
        }
        r->raw.len += (size_t)n;
        rc = http_client_progress(r, is_head);
    }
    return rc;
}

int http_client_request(const char *host, int port, const char *method, const char *path_and_query,
                        const char *const *headers, const void *body, size_t len, int timeout_ms,
                        int *status, char **resp_body)
{
    *resp_body = NULL;
    if (http_client_bad_text(host) || http_client_bad_text(method) ||
        http_client_bad_text(path_and_query) || strchr(method, ' ') != NULL ||
        strchr(path_and_query, ' ') != NULL)
        return HERALD_EINVAL;
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        if (http_client_bad_text(headers[i]))
            return HERALD_EINVAL;
    int64_t deadline = client_net_deadline(timeout_ms);
    char err[256];
    int fd = client_net_connect(host, port, deadline, err, sizeof(err));
    if (fd < 0)
        return fd;
    int rc = http_client_send_request(fd, host, port, method, path_and_query, headers, body, len,
                                      deadline);
    http_client_resp_t r = {.content_length = -1};
    buf_init(&r.raw);
    buf_init(&r.body);
    if (rc == 0)
        rc = http_client_exchange(fd, &r, strcmp(method, "HEAD") == 0, deadline);
    close(fd);
    if (rc == 0) {
        const buf_t *src = r.chunked ? &r.body : &r.raw;
        size_t blen = src->len;
        if (r.no_body)
            blen = 0;
        else if (!r.chunked && r.content_length >= 0)
            blen = (size_t)r.content_length;
        char *out = xmalloc(blen + 1);
        if (blen > 0)
            memcpy(out, src->data, blen);
        out[blen] = '\0';
        *resp_body = out;
        *status = r.status;
    }
    buf_deinit(&r.raw);
    buf_deinit(&r.body);
    return rc;
}
