/* http_client.c - the blocking HTTP client on libcurl's easy interface (see http_client.h): the
 * one file that knows libcurl. */
#include "http_client.h"

#include "buf.h"
#include "herald_err.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

_Static_assert(HTTP_CLIENT_ERROR_MAX >= CURL_ERROR_SIZE, "libcurl writes CURL_ERROR_SIZE bytes");

/* Owned by its creator; freed by http_client_free. The easy handle keeps the connection cache,
 * which is what makes a second request to the same server reuse the connection. */
struct http_client_s {
    CURL *curl;
    char *ca_file; /* NULL: the system store */
};

/* The response as it arrives: the body, bounded, and what the header lines said. */
typedef struct http_client_sink_s {
    buf_t body;
    size_t max;
    int too_big;
    int head_done; /* the empty line after the last response's header lines was seen */
    int bad_head;  /* a header line libcurl would have let pass but we refuse */
} http_client_sink_t;

static void http_client_oom(void)
{
    fprintf(stderr, "http_client: out of memory\n");
    abort();
}

static uv_once_t http_client_once = UV_ONCE_INIT;

/* curl_global_init is not thread-safe before libcurl 7.84 and callers run on several threads:
 * it runs once, whichever thread comes first. It fails only when out of memory. */
static void http_client_global_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        http_client_oom();
}

static CURL *http_client_easy(void)
{
    uv_once(&http_client_once, http_client_global_init);
    CURL *h = curl_easy_init();
    if (h == NULL)
        http_client_oom();
    return h;
}

http_client_t *http_client_new(const char *ca_file)
{
    http_client_t *c = xcalloc(1, sizeof(*c));
    c->curl = http_client_easy();
    c->ca_file = ca_file != NULL ? xstrdup(ca_file) : NULL;
    return c;
}

void http_client_free(http_client_t *c)
{
    if (c == NULL)
        return;
    curl_easy_cleanup(c->curl);
    free(c->ca_file);
    free(c);
}

int http_client_url(char *out, size_t cap, const char *scheme, const char *host, int port,
                    const char *path)
{
    int v6 = strchr(host, ':') != NULL;
    int n = snprintf(out, cap, "%s://%s%s%s:%d%s", scheme, v6 ? "[" : "", host, v6 ? "]" : "", port,
                     path);
    return n < 0 || (size_t)n >= cap ? HERALD_EINVAL : 0;
}

/* RFC 9110 token characters: what a method may be made of. */
static int http_client_is_token(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (strchr("!#$%&'*+-.^_`|~", *s) == NULL &&
            !((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
            return 0;
    return 1;
}

/* A URL goes on the request line as it is: no byte of it may end or split that line. */
static int http_client_check_url(const char *url, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)url[i] <= ' ' || url[i] == 0x7f)
            return HERALD_EINVAL;
    if ((len > 7 && strncasecmp(url, "http://", 7) == 0) ||
        (len > 8 && strncasecmp(url, "https://", 8) == 0))
        return 0;
    return HERALD_EINVAL;
}

static int http_client_check(const http_client_req_t *req, size_t url_len)
{
    if (req->method == NULL || req->url == NULL || !http_client_is_token(req->method) ||
        (req->body == NULL && req->body_len > 0) ||
        (strcmp(req->method, "HEAD") == 0 && req->body_len > 0))
        return HERALD_EINVAL;
    int rc = http_client_check_url(req->url, url_len);
    for (size_t i = 0; rc == 0 && req->headers != NULL && req->headers[i] != NULL; i++)
        if (strpbrk(req->headers[i], "\r\n") != NULL)
            rc = HERALD_EINVAL;
    return rc;
}

/* 1 when the caller's headers set `name` (given with its colon, e.g. "Content-Type:"). */
static int http_client_has_header(const char *const *headers, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        if (strncasecmp(headers[i], name, n) == 0)
            return 1;
    return 0;
}

static struct curl_slist *http_client_append(struct curl_slist *list, const char *line)
{
    struct curl_slist *l = curl_slist_append(list, line);
    if (l == NULL)
        http_client_oom();
    return l;
}

/* The caller's headers plus what keeps libcurl's request the plain one the header promises. */
static struct curl_slist *http_client_headers(const http_client_req_t *req, int one_shot)
{
    struct curl_slist *list = NULL;
    for (size_t i = 0; req->headers != NULL && req->headers[i] != NULL; i++)
        list = http_client_append(list, req->headers[i]);
    /* libcurl would wait up to a second for "100 Continue" before a larger body, and label every
     * body application/x-www-form-urlencoded: our receivers expect neither. */
    list = http_client_append(list, "Expect:");
    if (!http_client_has_header(req->headers, "Content-Type:"))
        list = http_client_append(list, "Content-Type:");
    if (!http_client_has_header(req->headers, "Accept:"))
        list = http_client_append(list, "Accept:");
    if (one_shot)
        list = http_client_append(list, "Connection: close");
    return list;
}

/* The value of header line `line` (len bytes, CRLF included) when its name is `name`, trimmed,
 * else NULL. */
static const char *http_client_header_value(const char *line, size_t len, const char *name,
                                            size_t *vlen)
{
    size_t n = strlen(name);
    if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return NULL;
    const char *v = line + n + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *vlen = (size_t)(end - v);
    return v;
}

/* libcurl takes the leading digits of "Content-Length: 1x", a Transfer-Encoding it does not
 * decode as a close-delimited body, and a header section cut off by the end of the connection as
 * complete. Each of those is a framing the server did not mean, so they are refused here. */
static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
    http_client_sink_t *s = arg;
    size_t len = size * n, vlen = 0;
    const char *v;
    if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        s->head_done = 0; /* a status line: an interim (1xx) response's lines are over */
    } else if ((len == 2 && line[0] == '\r') || (len == 1 && line[0] == '\n')) {
        s->head_done = 1;
    } else if ((v = http_client_header_value(line, len, "content-length", &vlen)) != NULL) {
        s->bad_head = vlen == 0 || strspn(v, "0123456789") < vlen;
    } else if ((v = http_client_header_value(line, len, "transfer-encoding", &vlen)) != NULL) {
        /* "chunked" is always the last coding when present (RFC 9112 6.1) */
        s->bad_head = vlen < 7 || strncasecmp(v + vlen - 7, "chunked", 7) != 0;
    }
    return s->bad_head ? 0 : len; /* 0: libcurl stops with CURLE_WRITE_ERROR */
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    http_client_sink_t *s = arg;
    size_t len = size * n;
    if (len > s->max - s->body.len) {
        s->too_big = 1;
        return 0; /* libcurl stops with CURLE_WRITE_ERROR */
    }
    buf_append(&s->body, data, len);
    return len;
}

/* The method decides how libcurl frames the request: GET, HEAD and DELETE without a body send no
 * Content-Length; every other request sends the body (possibly empty) with one. */
static void http_client_set_method(CURL *h, const http_client_req_t *req)
{
    const char *m = req->method;
    if (strcmp(m, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        return;
    }
    if (req->body_len == 0 && (strcmp(m, "GET") == 0 || strcmp(m, "DELETE") == 0)) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body != NULL ? req->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
    if (strcmp(m, "GET") != 0 && strcmp(m, "POST") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
}

/* libcurl's result as a herald code (the list in http_client.h). */
static int http_client_error(CURL *h, CURLcode rc, const http_client_sink_t *sink)
{
    long os_errno = 0;
    switch (rc) {
    case CURLE_OK:
        return 0;
    case CURLE_OPERATION_TIMEDOUT:
        return UV_ETIMEDOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
        return UV_EAI_NONAME;
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
        /* A failed system call leaves its errno; a RECV_ERROR without one is libcurl refusing
         * what it received (chunked framing). */
        curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
        if (os_errno != 0)
            return uv_translate_sys_error((int)os_errno);
        return rc == CURLE_COULDNT_CONNECT ? UV_ECONNREFUSED : HERALD_EPROTO;
    case CURLE_FILESIZE_EXCEEDED:
        return HERALD_ETOOBIG;
    case CURLE_WRITE_ERROR:
        return sink->too_big ? HERALD_ETOOBIG : sink->bad_head ? HERALD_EPROTO : HERALD_EINTERNAL;
    case CURLE_URL_MALFORMAT:
        return HERALD_EINVAL;
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
        return HERALD_ECONF;
    case CURLE_OUT_OF_MEMORY:
        http_client_oom();
        return HERALD_EINTERNAL;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_UNSUPPORTED_PROTOCOL: /* an HTTP/0.9 answer: no status line */
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return HERALD_EPROTO;
    default:
        return HERALD_EINTERNAL;
    }
}

/* One exchange on h (fresh or reused). */
static int http_client_perform(CURL *h, const char *ca_file, const char *url,
                               const http_client_req_t *req, int one_shot, http_client_resp_t *resp)
{
    http_client_sink_t sink = {.max = req->max_body > 0 ? req->max_body : HTTP_CLIENT_MAX_BODY};
    buf_init(&sink.body);
    struct curl_slist *headers = http_client_headers(req, one_shot);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_PROXY, ""); /* not the environment's http_proxy */
    /* Several threads use libcurl: no SIGALRM around name resolution. */
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? (long)req->timeout_ms : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (ca_file != NULL)
        curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, resp->error);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)sink.max);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &sink);
    http_client_set_method(h, req);

    CURLcode crc = curl_easy_perform(h);
    int rc = http_client_error(h, crc, &sink);
    if (rc == 0 && !sink.head_done)
        rc = HERALD_EPROTO;
    /* libcurl's message does not know why our callbacks stopped it */
    if (sink.too_big)
        snprintf(resp->error, sizeof(resp->error), "response body over %zu bytes", sink.max);
    else if (sink.bad_head)
        snprintf(resp->error, sizeof(resp->error), "bad Content-Length or Transfer-Encoding");
    else if (rc == HERALD_EPROTO && crc == CURLE_OK)
        snprintf(resp->error, sizeof(resp->error), "the header section was cut short");
    if (rc == 0) {
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        resp->status = (int)status;
        resp->body_len = sink.body.len;
        resp->body = xmalloc(sink.body.len + 1);
        if (sink.body.len > 0)
            memcpy(resp->body, sink.body.data, sink.body.len);
        resp->body[sink.body.len] = '\0';
    } else if (resp->error[0] == '\0') {
        snprintf(resp->error, sizeof(resp->error), "%s", curl_easy_strerror(crc));
    }
    /* Nothing of this request may outlive it on a reused handle (the buffers are ours). */
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    buf_deinit(&sink.body);
    return rc;
}

int http_client_request(http_client_t *c, const http_client_req_t *req, http_client_resp_t *resp)
{
    memset(resp, 0, sizeof(*resp));
    size_t url_len = req->url_len > 0 || req->url == NULL ? req->url_len : strlen(req->url);
    int rc = http_client_check(req, url_len);
    if (rc < 0) {
        snprintf(resp->error, sizeof(resp->error), "bad request: %s",
                 req->url == NULL ? "no URL" : "method, URL or a header");
        return rc;
    }
    char *url = xstrndup(req->url, url_len);
    if (c != NULL) {
        /* A reset handle keeps its connection cache: only this request's options go. */
        curl_easy_reset(c->curl);
        rc = http_client_perform(c->curl, c->ca_file, url, req, 0, resp);
    } else {
        CURL *h = http_client_easy();
        rc = http_client_perform(h, NULL, url, req, 1, resp);
        curl_easy_cleanup(h);
    }
    free(url);
    return rc;
}
