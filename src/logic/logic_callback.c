/* logic_callback.c - see logic_callback.h. */
#include "logic_callback.h"

#include "buf.h"
#include "herald_err.h"
#include "http_client.h"
#include "list.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

typedef struct callback_item_s {
    list_link_t link; /* in the queue, or in the sender thread's batch */
    size_t len;
    char json[];
} callback_item_t;

struct logic_callback_s {
    char *url;     /* as configured, checked by logic_callback_parse_url */
    char *ca_file; /* NULL: the system CA store */
    int timeout_ms;
    size_t queue_max;
    uv_thread_t thread;
    uv_mutex_t lock;   /* guards everything below */
    uv_cond_t cond;    /* signalled on a new event and on stop */
    list_link_t queue; /* callback_item_t, oldest first */
    size_t queued;
    int stopping;
    logic_callback_stats_t stats;
};

int logic_callback_parse_url(const char *url, char *host, size_t host_cap, int *port, char *path,
                             size_t path_cap)
{
    const char *h;
    if (strncmp(url, "http://", 7) == 0) {
        h = url + 7;
        *port = 80;
    } else if (strncmp(url, "https://", 8) == 0) {
        h = url + 8;
        *port = 443;
    } else {
        return -1;
    }
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return -1;
    const char *slash = strchr(h, '/');
    size_t authority = slash ? (size_t)(slash - h) : strlen(h);
    if (memchr(h, '@', authority) != NULL)
        return -1;
    const char *host_end, *colon = NULL;
    if (h[0] == '[') {
        const char *close = memchr(h, ']', authority);
        if (close == NULL)
            return -1;
        h++;
        host_end = close;
        if (close + 1 < h - 1 + authority) {
            if (close[1] != ':')
                return -1;
            colon = close + 1;
        }
    } else {
        colon = memchr(h, ':', authority);
        host_end = colon ? colon : h + authority;
    }
    size_t hlen = (size_t)(host_end - h);
    if (hlen == 0 || hlen >= host_cap)
        return -1;
    if (colon != NULL) {
        const char *p = colon + 1, *end = slash ? slash : p + strlen(p);
        long v = 0;
        if (p == end || end - p > 5)
            return -1;
        for (; p < end; p++) {
            if (*p < '0' || *p > '9')
                return -1;
            v = v * 10 + (*p - '0');
        }
        if (v < 1 || v > 65535)
            return -1;
        *port = (int)v;
    }
    const char *pth = slash ? slash : "/";
    if (strlen(pth) >= path_cap)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    strcpy(path, pth);
    return 0;
}

/* Moves up to LOGIC_CALLBACK_BATCH_MAX items from the head of the queue to batch (an empty
 * list), in order; returns how many. Under lock. */
static size_t batch_take(logic_callback_t *cb, list_link_t *batch)
{
    size_t n = 0;
    list_link_t *l;

    while (n < LOGIC_CALLBACK_BATCH_MAX && (l = list_first(&cb->queue)) != NULL) {
        list_unlink(l);
        list_append(batch, l);
        n++;
    }
    cb->queued -= n;
    return n;
}

/* Puts the n items of a batch that failed back at the head of the queue, in order, and leaves
 * batch empty. Under lock. */
static void batch_return(logic_callback_t *cb, list_link_t *batch, size_t n)
{
    list_link_t *after = &cb->queue;

    LIST_FOREACH_SAFE(l, next, batch)
    {
        list_unlink(l);
        /* Prepending to a link inserts right after it, be it the head or a member. */
        list_prepend(after, l);
        after = l;
    }
    cb->queued += n;
}

/* Frees every item of list and leaves it empty. */
static void items_free(list_link_t *list)
{
    LIST_FOREACH_SAFE(l, next, list)
    {
        free(list_entry(l, callback_item_t, link));
    }
    list_init(list);
}

/* POSTs the batch as one JSON array on http (the thread's keep-alive connection). Returns 1 when
 * the receiver took it (2xx). */
static int batch_post(logic_callback_t *cb, http_client_t *http, const list_link_t *batch)
{
    buf_t body;
    buf_init(&body);
    buf_append(&body, "[", 1);
    LIST_FOREACH(l, batch)
    {
        const callback_item_t *it = list_entry(l, callback_item_t, link);
        if (l != batch->next)
            buf_append(&body, ",", 1);
        buf_append(&body, it->json, it->len);
    }
    buf_append(&body, "]", 1);
    static const char *const headers[] = {"Content-Type: application/json", NULL};
    const char *url = cb->url;
    http_client_req_t req = {.method = "POST",
                             .url = url,
                             .headers = headers,
                             .body = body.data,
                             .body_len = body.len,
                             .timeout_ms = cb->timeout_ms};
    http_client_resp_t resp;
    int rc = http_client_request(http, &req, &resp);
    buf_deinit(&body);
    free(resp.body);
    if (rc != 0) {
        log_warn_rl("events: callback %s: %s (%s)", url, herald_strerror(rc), resp.error);
        return 0;
    }
    if (resp.status < 200 || resp.status > 299) {
        log_warn_rl("events: callback %s answered %d", url, resp.status);
        return 0;
    }
    return 1;
}

static void callback_thread(void *arg)
{
    logic_callback_t *cb = arg;
    http_client_t *http = http_client_new(cb->ca_file);
    uint64_t backoff_ms = 0;
    list_link_t batch; /* the thread's own: read unlocked while it is posted */
    list_init(&batch);
    uv_mutex_lock(&cb->lock);
    for (;;) {
        while (list_empty(&cb->queue) && !cb->stopping)
            uv_cond_wait(&cb->cond, &cb->lock);
        if (list_empty(&cb->queue))
            break; /* stopping, nothing left */
        size_t n = batch_take(cb, &batch);
        uv_mutex_unlock(&cb->lock);
        int ok = batch_post(cb, http, &batch);
        uv_mutex_lock(&cb->lock);
        if (ok) {
            cb->stats.posted += n;
            items_free(&batch);
            backoff_ms = 0;
            continue;
        }
        cb->stats.failed_posts++;
        batch_return(cb, &batch, n);
        if (cb->stopping)
            break;
        backoff_ms = backoff_ms ? backoff_ms * 2 : LOGIC_CALLBACK_RETRY_FIRST_MS;
        if (backoff_ms > LOGIC_CALLBACK_RETRY_MAX_MS)
            backoff_ms = LOGIC_CALLBACK_RETRY_MAX_MS;
        /* new events do not cut the wait short: only stopping does */
        uint64_t due = uv_hrtime() + backoff_ms * 1000000;
        for (uint64_t now = uv_hrtime(); !cb->stopping && now < due; now = uv_hrtime())
            uv_cond_timedwait(&cb->cond, &cb->lock, due - now);
    }
    cb->stats.dropped += cb->queued;
    items_free(&cb->queue);
    cb->queued = 0;
    uv_mutex_unlock(&cb->lock);
    http_client_free(http);
}

/* Frees what logic_callback_new allocated. */
static void callback_free_fields(logic_callback_t *cb)
{
    free(cb->url);
    free(cb->ca_file);
    free(cb);
}

logic_callback_t *logic_callback_new(const char *url, const char *ca_file, int64_t timeout_ms,
                                     size_t queue_max, char *err, size_t errlen)
{
    char host[256], path[1024];
    int port;
    if (logic_callback_parse_url(url, host, sizeof(host), &port, path, sizeof(path)) != 0) {
        snprintf(err, errlen, "events: callback_url '%.200s' is not http[s]://HOST[:PORT][/PATH]",
                 url);
        return NULL;
    }
    if (ca_file != NULL && ca_file[0] != '\0' && access(ca_file, R_OK) != 0) {
        snprintf(err, errlen, "events: callback_ca %.200s: cannot read: %s", ca_file,
                 strerror(errno));
        return NULL;
    }
    logic_callback_t *cb = xcalloc(1, sizeof(*cb));
    cb->url = xstrdup(url);
    cb->ca_file = ca_file != NULL && ca_file[0] != '\0' ? xstrdup(ca_file) : NULL;
    cb->timeout_ms = (int)timeout_ms;
    cb->queue_max = queue_max;
    list_init(&cb->queue);
    uv_mutex_init(&cb->lock);
    uv_cond_init(&cb->cond);
    int rc = uv_thread_create(&cb->thread, callback_thread, cb);
    if (rc != 0) {
        snprintf(err, errlen, "events: callback thread: %s", uv_strerror(rc));
        uv_cond_destroy(&cb->cond);
        uv_mutex_destroy(&cb->lock);
        callback_free_fields(cb);
        return NULL;
    }
    return cb;
}

void logic_callback_post(logic_callback_t *cb, const char *json, size_t len)
{
    uv_mutex_lock(&cb->lock);
    if (cb->queued >= cb->queue_max) {
        cb->stats.dropped++;
        uv_mutex_unlock(&cb->lock);
        log_warn_rl("events: callback queue full (%zu), an event was dropped", cb->queue_max);
        return;
    }
    callback_item_t *it = xmalloc(sizeof(*it) + len);
    it->len = len;
    memcpy(it->json, json, len);
    list_append(&cb->queue, &it->link);
    cb->queued++;
    uv_cond_signal(&cb->cond);
    uv_mutex_unlock(&cb->lock);
}

void logic_callback_stats(logic_callback_t *cb, logic_callback_stats_t *out)
{
    uv_mutex_lock(&cb->lock);
    *out = cb->stats;
    uv_mutex_unlock(&cb->lock);
}

void logic_callback_free(logic_callback_t *cb)
{
    if (cb == NULL)
        return;
    uv_mutex_lock(&cb->lock);
    cb->stopping = 1;
    uv_cond_signal(&cb->cond);
    uv_mutex_unlock(&cb->lock);
    uv_thread_join(&cb->thread);
    uv_cond_destroy(&cb->cond);
    uv_mutex_destroy(&cb->lock);
    callback_free_fields(cb);
}
