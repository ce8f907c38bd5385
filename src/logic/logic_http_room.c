/* logic_http_room.c - the members of a room, asked of every live comet (docs/im.md):
 *   GET /herald/v1/rooms/members?room=&limit=
 *     -> {"room","users":[{"mid","name","conns"}],"conns":N,"complete":bool,"truncated":bool}
 *
 * Each comet answers its `limit` smallest user ids in the room with their connection counts
 * (RoomMembers, comet_members.h); merging those with mid_top gives exactly the room's first
 * `limit` users over all comets, so a small room is listed whole and a big one is cut at
 * `limit` users and says so (truncated). A comet that does not answer (down but still in the
 * registry, or too slow) makes the answer incomplete, not an error.
 */
#include "buf.h"
#include "herald.pb-c.h"
#include "herald_err.h"
#include "log.h"
#include "logic_comets.h"
#include "logic_http.h"
#include "logic_online.h"
#include "logic_user.h"
#include "mid_top.h"
#include "proto.h"
#include "rpc_methods.h"

#include <stdlib.h>
#include <string.h>

#define MEMBERS_DEFAULT 100
#define MEMBERS_MAX 1000 /* RoomMembersReq's bound (herald.proto) */
/* How long a call waits for a comet's client to connect: long enough for a first connection
 * after logic starts, short enough that a dead comet still in the registry costs little. */
#define CONNECT_WAIT_MS 500

/* One members request. Heap, freed once answered. */
typedef struct members_s {
    const logic_ctx_t *ctx;
    logic_http_pending_t *p;
    json_t *room;   /* the room id as a JSON string (it is valid UTF-8) */
    mid_top_t top;  /* users over every comet that answered */
    int64_t conns;  /* connections in the room over every comet that answered */
    size_t waiting; /* comet calls still to answer, plus one while they are being started */
    int complete;   /* every comet answered */
    json_t *users;  /* the answer's [{"mid","conns","name"}] while names are read */
} members_t;

static void members_free(members_t *m)
{
    mid_top_deinit(&m->top);
    json_decref(m->users);
    json_decref(m->room);
    free(m);
}

static void members_answer(members_t *m)
{
    json_t *data =
        json_pack("{s:O,s:O,s:I,s:b,s:b}", "room", m->room, "users", m->users, "conns",
                  (json_int_t)m->conns, "complete", m->complete, "truncated", m->top.more);
    logic_http_finish_ok(m->p, data);
    members_free(m);
}

static void on_names(int status, void *arg)
{
    members_t *m = arg;
    if (status != 0) {
        logic_http_finish_error(m->p, 503, "redis unavailable");
        members_free(m);
        return;
    }
    members_answer(m);
}

/* Every comet answered or failed: the merged users, then their names. */
static void members_step(members_t *m)
{
    if (--m->waiting > 0)
        return;
    mid_top_finish(&m->top);
    m->users = json_array();
    for (size_t i = 0; i < m->top.n; i++)
        json_array_append_new(m->users, json_pack("{s:I,s:I}", "mid", (json_int_t)m->top.v[i].mid,
                                                  "conns", (json_int_t)m->top.v[i].count));
    if (m->top.n == 0)
        members_answer(m);
    else if (logic_user_names(m->ctx, m->users, on_names, m) != 0)
        on_names(HERALD_EUNAVAIL, m);
}

static void on_comet_members(int status, const ProtobufCMessage *msg, void *arg)
{
    members_t *m = arg;
    if (status != 0) {
        log_debug("rooms/members %.64s: a comet did not answer: %s", json_string_value(m->room),
                  herald_strerror(status));
        m->complete = 0;
    } else {
        const Herald__RoomMembersReply *r = (const Herald__RoomMembersReply *)msg;
        for (size_t i = 0; i < r->n_members; i++)
            if (r->members[i]->conns > 0) /* a well-behaved comet sends no other */
                mid_top_add(&m->top, r->members[i]->mid, r->members[i]->conns);
        if (r->more)
            mid_top_more(&m->top);
        if (r->count > 0)
            m->conns += r->count;
    }
    members_step(m);
}

void logic_http_room_members(logic_http_t *h, http_request_t *req)
{
    const logic_ctx_t *ctx = logic_http_ctx(h);
    char err[160];
    long long limit = MEMBERS_DEFAULT;
    const char *room = http_request_query(req, "room"), *ls = http_request_query(req, "limit");
    if (room == NULL || room[0] == '\0') {
        logic_http_error(h, req, 400, "room is required");
        return;
    }
    json_t *room_json = json_string(room); /* NULL: not UTF-8, which no answer could carry */
    if (!proto_room_id_valid(room, strlen(room)) || room_json == NULL) {
        json_decref(room_json);
        logic_http_error(h, req, 400,
                         "bad room: 1 to 255 bytes of UTF-8 without control characters");
        return;
    }
    if (ls && ls[0] && logic_params_int(ls, "limit", 1, MEMBERS_MAX, &limit, err, sizeof(err))) {
        json_decref(room_json);
        logic_http_error(h, req, 400, err);
        return;
    }
    members_t *m = xcalloc(1, sizeof(*m));
    m->ctx = ctx;
    m->room = room_json;
    mid_top_init(&m->top, (size_t)limit);
    m->complete = 1;
    m->waiting = 1; /* held until every call is started */
    m->p = logic_http_suspend(h, req);
    Herald__RoomMembersReq mreq = HERALD__ROOM_MEMBERS_REQ__INIT;
    mreq.room = (char *)json_string_value(m->room); /* packed before the call returns */
    mreq.limit = (int32_t)limit;
    const logic_online_t *o = ctx->online;
    for (size_t i = 0; i < logic_online_count(o); i++) {
        m->waiting++;
        if (logic_comets_call(ctx->comets, logic_online_at(o, i)->e.id, RPC_COMET_ROOM_MEMBERS,
                              (const ProtobufCMessage *)&mreq,
                              &herald__room_members_reply__descriptor, CONNECT_WAIT_MS,
                              (uint32_t)ctx->conf->rpc_timeout_ms, on_comet_members, m) != 0) {
            m->waiting--;
            m->complete = 0;
        }
    }
    members_step(m);
}
