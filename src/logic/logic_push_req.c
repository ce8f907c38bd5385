/* logic_push_req.c - release of a push request's heap parts. */
#include "logic_push_req.h"

#include <stdlib.h>
#include <string.h>

void logic_push_req_deinit(logic_push_req_t *req)
{
    for (size_t i = 0; i < req->nkeys; i++)
        free(req->keys[i]);
    free(req->keys);
    free(req->mids);
    free(req->room);
    free(req->server);
    free(req->rpc_addr);
    free(req->msg);
    memset(req, 0, sizeof(*req));
}
