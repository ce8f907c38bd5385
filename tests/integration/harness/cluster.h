/* cluster.h - a whole herald cluster of real processes for the integration tests:
 * redis-server, herald-kafka-dev, N routers, logic, M comets and one or two jobs, on free loopback
 * ports, with their logs and working directory in a temporary directory.
 *
 * The daemons are started from HERALD_BIN_DIR with cwd = the temp dir (so no conf/<name>.ini is
 * found: defaults plus HERALD_* environment overrides apply). Inherited HERALD_* variables are
 * dropped so a run is hermetic.
 *
 * Helpers whose comment says "asserts" fail the current cmocka test on error; they must be
 * called from inside a cmocka test or group setup.
 */
#ifndef HERALD_CLUSTER_H
#define HERALD_CLUSTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "client.h"

typedef enum {
    CLUSTER_REDIS = 0,
    CLUSTER_KAFKA,
    CLUSTER_ROUTER,
    CLUSTER_LOGIC,
    CLUSTER_COMET,
    CLUSTER_JOB,
    CLUSTER_KIND_COUNT
} cluster_kind_t;

#define CLUSTER_MAX_COMETS 3
/* Random bytes of the cluster secret each cluster_start makes (written as hex). */
#define CLUSTER_SECRET_BYTES 32
#define CLUSTER_MAX_ROUTERS 3
#define CLUSTER_MAX_JOBS 2

typedef struct cluster_opts_s {
    int n_comets;  /* 1..CLUSTER_MAX_COMETS */
    int n_routers; /* 1..CLUSTER_MAX_ROUTERS; every router registers in the router registry */
    int n_unlisted_routers; /* of those, the last ones logic finds only there (not in its
                             * router.addrs); at most n_routers - 1 */
    /* 0 or 1: one job, named "job". 2..CLUSTER_MAX_JOBS: that many jobs in the same consumer
     * group, "job-0", "job-1" (index of CLUSTER_JOB), each with its own admin port. */
    int n_jobs;
    /* Of those, the last n_jobs_idle are configured but not started (less than n_jobs):
     * cluster_restart starts one, which joins the running group. */
    int n_jobs_idle;
    int comet_workers; /* HERALD_SERVER_WORKERS of every comet; 0 = the daemon's default */
    /* Extra "KEY=VALUE" environment per daemon kind, NULL-terminated (or NULL); applied last,
     * so it replaces the harness's own settings. A bare "KEY" removes the harness's KEY (e.g.
     * "HERALD_LOG_LEVEL", which would override a config file's [log] level). */
    const char *const *env[CLUSTER_KIND_COUNT];
    /* Extra command-line arguments per daemon kind, NULL-terminated (or NULL); appended after
     * the harness's own (redis-server takes the last value of a repeated option, e.g.
     * {"--appendonly", "yes", NULL}). */
    const char *const *args[CLUSTER_KIND_COUNT];
    /* logic's auth.bearer_key (NULL = none); cluster_http and the helpers built on it send it
     * (borrowed: must outlive the cluster). */
    const char *bearer_key;
    /* A test_pki_dir() (test_pki.h), or NULL: logic serves HTTPS on its API port with that
     * directory's server.chain.pem and server.key ([http] tls_cert / tls_key), and
     * cluster_http and the helpers built on it speak https:// trusting its ca.pem (borrowed). */
    const char *logic_https_pki;
    /* A test_pki_dir(), or NULL: every comet also listens with TLS (HERALD_TLS_LISTEN and
     * HERALD_TLS_WSS_LISTEN on free ports, HERALD_TLS_CERT / HERALD_TLS_KEY that directory's
     * server.chain.pem and server.key), and cluster_connect reaches those ports with CLIENT_TLS /
     * CLIENT_WSS trusting its ca.pem (borrowed). */
    const char *comet_tls_pki;
    /* A test_pki_dir(), or NULL: every daemon's internal RPC is mutual TLS ([rpc] tls_cert /
     * tls_key that directory's peer.pem and peer.key, tls_ca its ca.pem), served and dialled
     * (borrowed). */
    const char *rpc_tls_pki;
    /* "host:port,..." of a running Redis Cluster (test_redis_cluster.h), or NULL: then no
     * redis-server is started and logic, job and every router get [redis] cluster = on with
     * these seeds (borrowed); CLUSTER_REDIS is not a daemon of this cluster. */
    const char *redis_cluster_seeds;
} cluster_opts_t;

typedef struct cluster_s cluster_t;

/* Starts every daemon, waits until each listening port accepts (10 s each) and until logic and
 * job both see the n_comets comets (15 s). Returns NULL on failure, after printing the reason
 * and the tail of every log and stopping what was started. */
cluster_t *cluster_start(const cluster_opts_t *opts);

/* Stops every running daemon with SIGTERM (SIGKILL after 10 s) and checks that each exited with
 * status 0 (graceful shutdown is a requirement): returns 0 when all did, -1 otherwise (each
 * failure printed). Prints the tail of every log when a daemon failed or when `failed` is set
 * (a test failed), and then keeps the temp dir; otherwise removes it (unless the environment
 * has HERALD_TEST_KEEP_LOGS). Frees c. NULL is a no-op
 * that returns 0. */
int cluster_stop(cluster_t *c, bool failed);

/* Sends sig to daemon (kind, index). Returns 0 or -ESRCH when it is not running. */
int cluster_kill(cluster_t *c, cluster_kind_t kind, int index, int sig);

/* Waits up to timeout_ms for daemon (kind, index) to exit. Returns true when it exited, and its
 * status description in status (e.g. "exit 0"). */
bool cluster_wait_exit(cluster_t *c, cluster_kind_t kind, int index, int timeout_ms, char *status,
                       size_t len);

/* True when daemon (kind, index) has exited with status 0. */
bool cluster_exited_ok(cluster_t *c, cluster_kind_t kind, int index);

/* Starts daemon (kind, index) again with the same ports and environment (it must have exited;
 * a running one is stopped first with SIGTERM; an idle job, opts.n_jobs_idle, is started for the
 * first time) and waits for its ports. When `wait_ready`, a
 * restarted logic or job also waits until it sees every running comet. herald-kafka-dev cannot
 * be restarted (its port is chosen by the broker). Returns 0 or -1 (reason printed). */
int cluster_restart(cluster_t *c, cluster_kind_t kind, int index, bool wait_ready);

/* Writes one command line to herald-kafka-dev's stdin (a FIFO the harness holds), e.g.
 * "down 2" or "up 2" (docs/internals.md, "herald-kafka-dev"); its answer is in its log. Returns 0
 * or -1 (reason printed). */
int cluster_kafka_command(cluster_t *c, const char *line);

/* True when job `index` has been started and is running. */
bool cluster_job_running(cluster_t *c, int index);

/* Waits (15 s) until logic and job both see every running comet. Returns 0 or -1 (reason
 * printed). */
int cluster_wait_ready(cluster_t *c);

/* Ports. index selects the comet / router. cluster_comet_port answers for every transport; the
 * TLS ones are 0 unless opts.comet_tls_pki. */
int cluster_logic_http_port(const cluster_t *c);
int cluster_comet_port(const cluster_t *c, int index, client_transport_t transport);
int cluster_comet_admin_port(const cluster_t *c, int index);
int cluster_router_admin_port(const cluster_t *c, int index);
int cluster_job_admin_port(const cluster_t *c); /* job 0 */
int cluster_job_admin_port_at(const cluster_t *c, int index);
int cluster_n_comets(const cluster_t *c);
/* The cluster secret every daemon was given (hex text, HERALD_CLUSTER_SECRET_FILE). */
const char *cluster_secret(const cluster_t *c);
/* The RPC port of logic, router `index` or comet `index`; -1 for another kind. */
int cluster_rpc_port(const cluster_t *c, cluster_kind_t kind, int index);
const char *cluster_dir(const cluster_t *c);
/* opts.bearer_key, or NULL. */
const char *cluster_bearer_key(const cluster_t *c);
/* opts.logic_https_pki, or NULL. */
const char *cluster_logic_https_pki(const cluster_t *c);
/* opts.comet_tls_pki, or NULL. */
const char *cluster_comet_tls_pki(const cluster_t *c);
/* The bootstrap brokers herald-kafka-dev printed (what logic and job were given). */
const char *cluster_kafka_brokers(const cluster_t *c);

/* Runs bin (a daemon under HERALD_BIN_DIR, e.g. "herald-logic") in the cluster's directory with
 * the cluster's secret and env (NULL-terminated), and asserts that it exits within wait_ms with
 * an error whose output holds `want` and never `never` (may be NULL: a secret that must not be
 * printed). */
void cluster_expect_start_refused(cluster_t *c, const char *bin, const char *const *env,
                                  const char *want, const char *never, int wait_ms);

/* ---- HTTP (cluster_http.c) ---- */

/* One HTTP request to 127.0.0.1:port. body may be NULL. Returns the status code (> 0) or a
 * negative error; *json (may be NULL) gets the parsed reply or NULL when it is not JSON (the
 * caller owns the reference). */
int cluster_http_port(int port, const char *method, const char *path_query, const char *body,
                      json_t **json);

/* cluster_http_port() against logic's API port, with the cluster's bearer key when it has one,
 * over https when opts.logic_https_pki is set. */
int cluster_http(cluster_t *c, const char *method, const char *path_query, const char *body,
                 json_t **json);

/* POSTs to logic and asserts status 200 and code 0. */
void cluster_post_ok(cluster_t *c, const char *path_query, const char *body);

/* The password the IM tests register their users with. */
#define CLUSTER_PASSWORD "test-password"

/* POST /herald/v1/users?name=<name> with body {"password":<password>} (name and password are
 * URL- and JSON-safe). Returns the HTTP status; *mid (may be NULL) gets data.mid or 0. */
int cluster_register(cluster_t *c, const char *name, const char *password, int64_t *mid);

/* Registers name with CLUSTER_PASSWORD. Asserts status 200 and a mid; returns it. */
int64_t cluster_register_ok(cluster_t *c, const char *name);

/* POST /herald/v1/login?name=<name>&platform=<platform> (platform may be NULL) with body
 * {"password":<password>}. Returns the HTTP status; *json (may be NULL) gets the reply. */
int cluster_login(cluster_t *c, const char *name, const char *password, const char *platform,
                  json_t **json);

/* Issues a token for mid via POST /herald/v1/tokens. Asserts. Returns a heap string. */
char *cluster_issue_token(cluster_t *c, int64_t mid);

/* Integer field `name` of an admin /metrics reply (the counters may sit at the top level or
 * under "data"). Returns true and the value, or false when the field is missing or the request
 * failed. */
bool cluster_metric(int port, const char *path, const char *name, long long *value);

/* Writes goim's query form of a room id "<type>://<id>": "type=<type>&<param>=<id>",
 * percent-encoded (goim names the room type + "://" + id). Asserts the room id has that form. */
void cluster_room_query(const char *room, const char *param, char *out, size_t len);

/* Pushes through logic's goim routes; each asserts status 200 and code 0. room is the full room
 * id "<type>://<id>". */
void cluster_push_mids(cluster_t *c, int op, const int64_t *mids, int n, const char *body);
void cluster_push_key(cluster_t *c, int op, const char *key, const char *body);
void cluster_push_room(cluster_t *c, int op, const char *room, const char *body);
void cluster_push_all(cluster_t *c, int op, const char *body);

/* ---- clients (cluster_client.c) ---- */

/* Connects to comet `index` at 127.0.0.1 (CLIENT_TLS and CLIENT_WSS: trusting the ca.pem of
 * opts.comet_tls_pki, the certificate checked for 127.0.0.1) and authenticates with auth_json.
 * Returns the client, and (when reply is not NULL) the auth reply body parsed as JSON (caller owns
 * it), or NULL when the connection or the auth failed (the reason is in err). */
client_t *cluster_connect(cluster_t *c, int index, client_transport_t transport,
                          const char *auth_json, json_t **reply, char *err, size_t errlen);

/* "tcp", "ws", "tls" or "wss", for messages. */
const char *cluster_transport_name(client_transport_t transport);

/* Auth body {"token","room_id","platform","accepts":[accepts...],"last_seq":0}; room may be
 * NULL (no room). Returns a heap string. */
char *cluster_auth_body(const char *token, const char *room, const int *accepts, int n_accepts);

/* Issues a token for mid and connects it to comet `index` in `room` (may be NULL) with accepts
 * [accept_op] (0 = none). Asserts that the auth reply has code 0 and the mid. *key (may be NULL)
 * gets the connection key (heap string). */
client_t *cluster_user(cluster_t *c, int index, client_transport_t transport, int64_t mid,
                       const char *room, int accept_op, char **key);

/* ---- expectations on a client (cluster_expect.c); all assert ---- */

#define CLUSTER_ANY_SEQ UINT32_MAX

/* Waits for the next packet that is not a heartbeat reply (op 3 is skipped) and asserts its op,
 * seq (unless CLUSTER_ANY_SEQ) and body (unless NULL). */
void cluster_expect_packet(client_t *cl, const char *who, uint32_t op, uint32_t seq,
                           const char *body, int timeout_ms);

/* Asserts that nothing but heartbeat replies arrives for ms milliseconds and the connection
 * stays open. */
void cluster_expect_silence(client_t *cl, const char *who, int ms);

/* Asserts that the server closes the connection within timeout_ms, skipping heartbeat replies;
 * any other packet first fails. */
void cluster_expect_closed(client_t *cl, const char *who, int timeout_ms);

/* Sends `body` upstream (op 4, header seq) and waits up to timeout_ms for the op 5 reply with
 * that seq, skipping other packets. Returns the reply's "code"; a nonzero code must come with a
 * "message" (asserted). */
int cluster_send_msg(client_t *cl, uint32_t seq, const char *body, int timeout_ms);

/* Sends heartbeats (every 200 ms) until a reply carries exactly `count`, bounded by timeout_ms.
 * Asserts; returns the last count seen. */
int32_t cluster_expect_room_count(client_t *cl, const char *who, int32_t count, int timeout_ms);

/* Waits until logic reports `count` members online in `room` (GET /goim/online/room), bounded
 * by timeout_ms. Asserts. (Room pushes need no wait after a join: comets announce their rooms
 * to job before the client is told it is in.) */
void cluster_wait_room(cluster_t *c, const char *room, long long count, int timeout_ms);

#endif
