/* redis_route.h - what the Redis Cluster client needs to know of a command before sending it:
 * the key that decides its slot, and whether it opens or ends a transaction. Works on the
 * command as it goes on the wire (a RESP array of bulk strings, as hiredis formats it). Pure,
 * any thread.
 */
#ifndef HERALD_REDIS_ROUTE_H
#define HERALD_REDIS_ROUTE_H

#include <stddef.h>

enum redis_route_kind {
    REDIS_ROUTE_OTHER = 0,
    REDIS_ROUTE_MULTI,   /* MULTI: the transaction goes where its first keyed command goes */
    REDIS_ROUTE_END_TXN, /* EXEC or DISCARD */
};

typedef struct redis_route_s {
    int kind;        /* enum redis_route_kind */
    const char *key; /* inside the wire bytes; NULL when the command names no key */
    size_t key_len;
} redis_route_t;

/* The routing key of a command: for EVAL / EVALSHA (and their _RO forms) the first key after
 * numkeys (none when numkeys is 0); none for the commands herald sends without a key (PING,
 * MULTI, EXEC, DISCARD, INFO, TIME, CLUSTER, SCRIPT, WAIT, ASKING, AUTH, SELECT, ECHO, DBSIZE,
 * FLUSHALL, FLUSHDB, READONLY, READWRITE); otherwise the first argument. Returns 0, or -1 when
 * wire is not a RESP array of bulk strings. */
int redis_route(const char *wire, size_t len, redis_route_t *out);

#endif
