/* logic_callback.h - business events POSTed to a URL ([events] callback_url; cim's message
 * callback), besides or instead of the events topic (logic_events.h).
 *
 * A thread of its own sends them with the blocking HTTP client of common (http_client.h, on
 * libcurl), over one keep-alive handle that the thread owns, so a slow or dead receiver never
 * holds up logic's loop. Events wait in a queue of at most queue_max (more are dropped and
 * counted) and leave as one POST per batch: the body is a JSON array of the events queued since
 * the previous POST, oldest first, at most LOGIC_CALLBACK_BATCH_MAX of them, with Content-Type
 * application/json. A 2xx answer takes the batch. Anything else (no connection,
 * timeout, another status) keeps it at the head of the queue and retries after 0.5 s, doubling up
 * to 30 s: the receiver gets every event at least once, in order, as long as logic runs and the
 * queue holds (it is memory only). On free, what is queued is posted until the first failure;
 * the rest is dropped and counted.
 *
 * post and stats may be called from any thread; new and free from one thread.
 */
#ifndef LOGIC_CALLBACK_H
#define LOGIC_CALLBACK_H

#include <stddef.h>
#include <stdint.h>

#define LOGIC_CALLBACK_BATCH_MAX 256
#define LOGIC_CALLBACK_RETRY_FIRST_MS 500
#define LOGIC_CALLBACK_RETRY_MAX_MS 30000

typedef struct logic_callback_s logic_callback_t;

typedef struct logic_callback_stats_s {
    uint64_t posted;       /* events the receiver answered 2xx for */
    uint64_t failed_posts; /* POSTs that failed (each is retried) */
    uint64_t dropped;      /* events lost: queue full, or left at shutdown */
} logic_callback_stats_t;

/* Splits "http://HOST[:PORT][/PATH]" or "https://..." (port 80 or 443 and path "/" by
 * default; HOST a name, an IPv4 address or a bracketed IPv6 one). Returns 0, or -1 for anything
 * else (another scheme, userinfo, no host, a bad port, spaces or control characters). */
int logic_callback_parse_url(const char *url, char *host, size_t host_cap, int *port, char *path,
                             size_t path_cap);

/* Starts the sender thread for url. An https:// receiver's certificate is verified, with its
 * host name, against ca_file (a PEM file of CAs; [events] callback_ca) or, when ca_file is NULL
 * or "", the system CA store. timeout_ms bounds each POST (connect, TLS, send and answer).
 * Returns NULL with a message in err for a bad URL, a CA file that cannot be read, or when the
 * thread cannot start. */
logic_callback_t *logic_callback_new(const char *url, const char *ca_file, int64_t timeout_ms,
                                     size_t queue_max, char *err, size_t errlen);

/* Queues one event (json: a JSON object's text, copied). Never blocks on the network. */
void logic_callback_post(logic_callback_t *cb, const char *json, size_t len);

void logic_callback_stats(logic_callback_t *cb, logic_callback_stats_t *out);

/* Stops the thread (see above: bounded by the POST timeout per remaining batch), joins it and
 * frees cb. NULL is a no-op. */
void logic_callback_free(logic_callback_t *cb);

#endif
