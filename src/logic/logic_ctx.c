/* logic_ctx.c - the stopping guard of the backends (logic_ctx.h). */
#include "logic_ctx.h"

#include <stddef.h>

int logic_ctx_stopping(const logic_ctx_t *c)
{
    return c->stopping != NULL && *c->stopping;
}

redis_t *logic_ctx_redis(const logic_ctx_t *c)
{
    return logic_ctx_stopping(c) ? NULL : c->redis;
}

struct logic_router_s *logic_ctx_router(const logic_ctx_t *c)
{
    return logic_ctx_stopping(c) ? NULL : c->router;
}

kafka_producer_t *logic_ctx_kafka(const logic_ctx_t *c)
{
    return logic_ctx_stopping(c) ? NULL : c->kafka;
}
