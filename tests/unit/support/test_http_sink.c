/* test_http_sink.c - see test_http_sink.h. */
#define _GNU_SOURCE /* strcasestr */
#include "test_http_sink.h"

#include <setjmp.h>
#include <stdarg.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define SINK_MAX_POSTS 256
#define SINK_MAX_REQUEST (4u << 20)

struct test_http_sink_s {
    int fd;
    int port;
    uv_thread_t thread;
    uv_mutex_t lock; /* guards what follows */
    int fail_first;
    int requests;
    char *bodies[SINK_MAX_POSTS];
    int n_bodies;
    char content_type[64];
    int stop;
};

/* Reads one request (headers, then Content-Length bytes). Returns the body or NULL; the
 * Content-Type goes to content_type (64 bytes). */
static char *read_request(int c, char *content_type)
{
    size_t len = 0;
    char *buf = malloc(SINK_MAX_REQUEST + 1);
    char *end = NULL;
    while (end == NULL && len < SINK_MAX_REQUEST) {
        ssize_t n = read(c, buf + len, SINK_MAX_REQUEST - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (end == NULL) {
        free(buf);
        return NULL;
    }
    const char *cl = strcasestr(buf, "\r\nContent-Length:");
    const char *ct = strcasestr(buf, "\r\nContent-Type:");
    if (ct != NULL && sscanf(ct + 15, " %63[^\r]", content_type) != 1)
        content_type[0] = '\0';
    size_t want = cl ? (size_t)strtoul(cl + 17, NULL, 10) : 0;
    size_t head = (size_t)(end + 4 - buf);
    while (len - head < want && len < SINK_MAX_REQUEST) {
        ssize_t n = read(c, buf + len, SINK_MAX_REQUEST - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    char *body = len - head >= want ? strndup(buf + head, want) : NULL;
    free(buf);
    return body;
}

static int sink_stopping(test_http_sink_t *s)
{
    uv_mutex_lock(&s->lock);
    int stop = s->stop;
    uv_mutex_unlock(&s->lock);
    return stop;
}

static void sink_run(void *arg)
{
    test_http_sink_t *s = arg;
    while (!sink_stopping(s)) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            continue;
        char ct[64] = "";
        char *body = read_request(c, ct);
        int status = 200;
        uv_mutex_lock(&s->lock);
        if (body != NULL && ++s->requests <= s->fail_first) {
            status = 503;
        } else if (body != NULL && s->n_bodies < SINK_MAX_POSTS) {
            s->bodies[s->n_bodies++] = body;
            body = NULL;
            snprintf(s->content_type, sizeof(s->content_type), "%s", ct);
        }
        uv_mutex_unlock(&s->lock);
        free(body);
        char answer[128];
        int n =
            snprintf(answer, sizeof(answer),
                     "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", status);
        if (write(c, answer, (size_t)n) < 0)
            perror("test_http_sink: write");
        close(c);
    }
}

test_http_sink_t *test_http_sink_start(int fail_first)
{
    test_http_sink_t *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    s->fail_first = fail_first;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->fd, 64), 0);
    socklen_t alen = sizeof(a);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &alen), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(uv_mutex_init(&s->lock), 0);
    assert_int_equal(uv_thread_create(&s->thread, sink_run, s), 0);
    return s;
}

void test_http_sink_stop(test_http_sink_t *s)
{
    uv_mutex_lock(&s->lock);
    s->stop = 1;
    uv_mutex_unlock(&s->lock);
    shutdown(s->fd, SHUT_RDWR); /* wakes accept() */
    uv_thread_join(&s->thread);
    close(s->fd);
    for (int i = 0; i < s->n_bodies; i++)
        free(s->bodies[i]);
    uv_mutex_destroy(&s->lock);
    free(s);
}

int test_http_sink_port(const test_http_sink_t *s)
{
    return s->port;
}

const char *test_http_sink_url(const test_http_sink_t *s, char *buf, size_t cap)
{
    snprintf(buf, cap, "http://127.0.0.1:%d/hooks/herald", s->port);
    return buf;
}

json_t *test_http_sink_items(test_http_sink_t *s)
{
    json_t *all = json_array();
    uv_mutex_lock(&s->lock);
    for (int i = 0; i < s->n_bodies; i++) {
        json_t *batch = json_loads(s->bodies[i], 0, NULL);
        if (!json_is_array(batch))
            fail_msg("test_http_sink: body is not a JSON array: %.200s", s->bodies[i]);
        json_array_extend(all, batch);
        json_decref(batch);
    }
    uv_mutex_unlock(&s->lock);
    return all;
}

int test_http_sink_posts(test_http_sink_t *s)
{
    uv_mutex_lock(&s->lock);
    int n = s->n_bodies;
    uv_mutex_unlock(&s->lock);
    return n;
}

void test_http_sink_content_type(test_http_sink_t *s, char *out, size_t cap)
{
    uv_mutex_lock(&s->lock);
    snprintf(out, cap, "%s", s->content_type);
    uv_mutex_unlock(&s->lock);
}

int test_http_sink_wait(test_http_sink_t *s, int (*pred)(json_t *items, void *arg), void *arg,
                        int ms)
{
    for (int waited = 0;; waited += 10) {
        json_t *items = test_http_sink_items(s);
        int ok = pred(items, arg);
        json_decref(items);
        if (ok || waited >= ms)
            return ok;
        usleep(10 * 1000);
    }
}
