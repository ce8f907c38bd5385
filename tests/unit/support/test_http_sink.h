/* test_http_sink.h - a real HTTP receiver on 127.0.0.1 for tests of outgoing POSTs (the events
 * callback): a thread accepts one request per connection, answers 503 to the first fail_first
 * requests and 200 to the rest, and keeps the bodies of the 200s. Bodies are expected to be JSON
 * arrays (a failed parse fails the test). */
#ifndef HERALD_TEST_HTTP_SINK_H
#define HERALD_TEST_HTTP_SINK_H

#include <jansson.h>
#include <stddef.h>

typedef struct test_http_sink_s test_http_sink_t;

/* Listens on a free port and starts the thread. */
test_http_sink_t *test_http_sink_start(int fail_first);

/* Stops the thread, closes the socket and frees s. */
void test_http_sink_stop(test_http_sink_t *s);

int test_http_sink_port(const test_http_sink_t *s);

/* "http://127.0.0.1:PORT/hooks/herald" into buf. */
const char *test_http_sink_url(const test_http_sink_t *s, char *buf, size_t cap);

/* Every element of every body answered 200, in arrival order (new reference). */
json_t *test_http_sink_items(test_http_sink_t *s);

/* Requests answered 200, and the Content-Type of the last of them. */
int test_http_sink_posts(test_http_sink_t *s);
void test_http_sink_content_type(test_http_sink_t *s, char *out, size_t cap);

/* Waits up to ms until pred(items, arg) is true for test_http_sink_items(); returns it. */
int test_http_sink_wait(test_http_sink_t *s, int (*pred)(json_t *items, void *arg), void *arg,
                        int ms);

#endif
