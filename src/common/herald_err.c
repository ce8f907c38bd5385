/* herald_err.c - names for herald's own error codes and libuv's. */
#include "herald_err.h"

#include <uv.h>

const char *herald_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case HERALD_EPROTO:
        return "malformed packet";
    case HERALD_ETOOBIG:
        return "body too large";
    case HERALD_EWSPROTO:
        return "bad WebSocket handshake or frame";
    case HERALD_EAUTH:
        return "authentication failed";
    case HERALD_EOVERFLOW:
        return "too many connections for this user";
    case HERALD_EFORBIDDEN:
        return "forbidden";
    case HERALD_ERATE:
        return "rate limited";
    case HERALD_EINVAL:
        return "invalid argument";
    case HERALD_ENOTFOUND:
        return "not found";
    case HERALD_EEXIST:
        return "already exists";
    case HERALD_EUNAVAIL:
        return "backend unavailable";
    case HERALD_ETIMEDOUT:
        return "timed out";
    case HERALD_EINTERNAL:
        return "internal error";
    case HERALD_ECONF:
        return "configuration error";
    }
    /* Herald's range (-1000 .. -1499) is disjoint from libuv's codes (negative errno values and
     * UV_EAI_* at -3000). */
    if (err <= -1000 && err > -1500)
        return "unknown herald error";
    if (err < 0)
        return uv_strerror(err);
    return "unknown error";
}
