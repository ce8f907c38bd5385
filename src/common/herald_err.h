/* herald_err.h - project error codes.
 *
 * Functions return int: 0 on success, a negative value on error. System and libuv errors are
 * libuv's UV_E* codes (negative errno); herald's own codes are below, grouped by hundreds as
 * wslay groups WSLAY_ERR_*, and far below any errno. herald_strerror() names both kinds.
 * These codes also travel in RPC replies (`code` fields) and in HTTP JSON replies.
 */
#ifndef HERALD_ERR_H
#define HERALD_ERR_H

enum herald_err {
    /* 1000s: client wire protocol */
    HERALD_EPROTO = -1000,   /* malformed packet (bad header length, version, packLen) */
    HERALD_ETOOBIG = -1001,  /* body over the configured maximum */
    HERALD_EWSPROTO = -1002, /* bad WebSocket handshake or frame */
    /* 1100s: auth and policy */
    HERALD_EAUTH = -1100,      /* token unknown or expired */
    HERALD_EOVERFLOW = -1101,  /* user has too many connections and the policy rejects more */
    HERALD_EFORBIDDEN = -1102, /* not allowed (e.g. sending to a room one is not in) */
    HERALD_ERATE = -1103,      /* rate limit */
    /* 1200s: input validation */
    HERALD_EINVAL = -1200, /* bad argument or request */
    HERALD_ENOTFOUND = -1201,
    HERALD_EEXIST = -1202,
    /* 1300s: backends */
    HERALD_EUNAVAIL = -1300,  /* a backend (Redis, Kafka, router, comet) is unreachable */
    HERALD_ETIMEDOUT = -1301, /* an RPC or backend call timed out */
    HERALD_EINTERNAL = -1302,
    /* 1400s: configuration */
    HERALD_ECONF = -1400,
};

/* Returns a static description of `err` (a herald code or a UV_E* code). Never NULL. */
const char *herald_strerror(int err);

#endif
