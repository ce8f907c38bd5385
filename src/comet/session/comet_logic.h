/* comet_logic.h - the RPC clients of one loop to every logic in logic.addrs.
 *
 * Each worker and the main thread own one comet_logic_t on their loop (rpc clients are
 * single-loop objects). A call goes to the next connected logic, round robin; the clients
 * reconnect by themselves (rpc.h), so logic may be down at start or later.
 */
#ifndef COMET_LOGIC_H
#define COMET_LOGIC_H

#include "comet_conf.h"
#include "rpc.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct comet_logic_s {
    rpc_client_t **clients;
    size_t n;
    size_t next;    /* round-robin position */
    size_t closing; /* clients whose close has not completed */
    uint32_t timeout_ms;
    _Atomic uint64_t in_flight; /* calls started and not ended; read by the main thread */
    void (*on_closed)(void *arg);
    void *closed_arg;
} comet_logic_t;

/* Creates one client per address of conf->logic_addrs on loop; `owner` ("main", "worker 1")
 * goes into the clients' log names. Returns 0, or HERALD_ECONF when the list is empty or an
 * address is not host:port, with the reason in err (errlen bytes); then nothing was created. */
int comet_logic_init(comet_logic_t *l, uv_loop_t *loop, const comet_conf_t *conf, const char *owner,
                     char *err, size_t errlen);

/* Calls started by comet_logic_call and not yet ended. Any thread (for /metrics). */
uint64_t comet_logic_in_flight(const comet_logic_t *l);

/* Nonzero when at least one logic is connected. */
int comet_logic_connected(const comet_logic_t *l);

/* Calls method on the next connected logic with the configured timeout (or timeout_ms when not
 * 0). Same contract as rpc_client_call: returns 0 and calls cb exactly once later, or returns
 * UV_ENOTCONN when no logic is connected (cb never called). */
int comet_logic_call(comet_logic_t *l, uint16_t method, const ProtobufCMessage *req,
                     const ProtobufCMessageDescriptor *reply_desc, uint32_t timeout_ms,
                     rpc_reply_cb cb, void *arg);

/* Fire and forget: the reply (or failure) is only logged at debug level. */
void comet_logic_notify(comet_logic_t *l, uint16_t method, const ProtobufCMessage *req,
                        const ProtobufCMessageDescriptor *reply_desc);

/* Maps an RPC status (rpc_reply_cb) to the code a client sees: the remote's herald code as is,
 * HERALD_ETIMEDOUT for a deadline, HERALD_EUNAVAIL for any transport failure. */
int comet_logic_code(int status);

/* Closes every client (calls in flight fail with UV_ECANCELED); on_closed (may be NULL) runs when
 * all are closed. */
void comet_logic_close(comet_logic_t *l, void (*on_closed)(void *arg), void *arg);

#endif
