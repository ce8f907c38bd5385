/* logic_inbox.c - see logic_inbox.h. Everything that touches an inbox runs as a Lua script, so
 * the counter, the entries and the trimming never disagree, whichever logic runs them. */
#include "logic_inbox.h"

#include "buf.h"
#include "daemon.h"
#include "herald_err.h"
#include "log.h"
#include "proto.h"
#include "redis_keys.h"
#include "rpc_methods.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Users per store script: one EVAL carries the body once for all of them, and a chunk keeps
 * each script short (Redis runs nothing else meanwhile). */
#define STORE_CHUNK 128
/* WAIT's bound with inbox.replicas: how long a push waits at most for the replicas. */
#define STORE_WAIT_MS 1000

/* The Lua scripts are laid out as Lua, not as C. */
// clang-format off

/* Drops entries older than the cutoff (ms) from the head of the set, a batch at a time; an entry
 * without a readable header goes too. */
#define LUA_TRIM                                                                                   \
    "local function trim(key, cutoff) "                                                            \
    "  while true do "                                                                             \
    "    local head = redis.call('ZRANGE', key, 0, 31) "                                           \
    "    local n = 0 "                                                                             \
    "    for _, m in ipairs(head) do "                                                             \
    "      local t = tonumber(string.match(m, '^%d+:(%d+):')) "                                    \
    "      if t ~= nil and t >= cutoff then break end "                                            \
    "      n = n + 1 "                                                                             \
    "    end "                                                                                     \
    "    if n > 0 then redis.call('ZREMRANGEBYRANK', key, 0, n - 1) end "                          \
    "    if n < 32 then return end "                                                               \
    "  end "                                                                                       \
    "end "

/* KEYS: seq:{<mid>}, inbox:{<mid>} pairs, or seq:, inbox:, inboxfrom:{<mid>}:<from> triples for a
 * chat message. ARGV: header tail ":<created_ms>:<op>:", body, cutoff, max_count, ttl_ms,
 * sender_share (0 = no sender). Returns the new sequence numbers, in KEYS order.
 * The per-sender share: inboxfrom: lists the seqs of that sender's entries; past the share the
 * sender's own oldest go, before the count bound can take anyone else's. Entries leave an inbox
 * only from its head (count, age) or through the share, so dropping the inboxfrom: seqs below
 * the inbox's first entry makes the list exact before it is counted. */
static const char store_script[] =
    LUA_TRIM
    "local out = {} "
    "local max = tonumber(ARGV[4]) "
    "local share = tonumber(ARGV[6]) "
    "local step = 2 "
    "if share > 0 then step = 3 end "
    "for i = 1, #KEYS, step do "
    "  local inbox = KEYS[i + 1] "
    "  local seq = redis.call('INCR', KEYS[i]) "
    "  redis.call('ZADD', inbox, seq, string.format('%d', seq) .. ARGV[1] .. ARGV[2]) "
    "  if share > 0 then "
    "    local from = KEYS[i + 2] "
    "    local head = redis.call('ZRANGE', inbox, 0, 0, 'WITHSCORES') "
    "    redis.call('ZREMRANGEBYSCORE', from, '-inf', '(' .. head[2]) "
    "    redis.call('ZADD', from, seq, seq) "
    "    local own = redis.call('ZCARD', from) - share "
    "    if own > 0 then "
    "      for _, s in ipairs(redis.call('ZRANGE', from, 0, own - 1)) do "
    "        redis.call('ZREMRANGEBYSCORE', inbox, s, s) "
    "      end "
    "      redis.call('ZREMRANGEBYRANK', from, 0, own - 1) "
    "    end "
    "    redis.call('PEXPIRE', from, ARGV[5]) "
    "  end "
    "  local over = redis.call('ZCARD', inbox) - max "
    "  if over > 0 then redis.call('ZREMRANGEBYRANK', inbox, 0, over - 1) end "
    "  trim(inbox, tonumber(ARGV[3])) "
    "  redis.call('PEXPIRE', inbox, ARGV[5]) "
    "  out[#out + 1] = seq "
    "end "
    "return out";

/* KEYS: seq:, inbox:, ack:, sent: of one user. ARGV: after ("" = the position of ARGV[2], or
 * the newest when it has none), position name, upto (0 = newest), max entries, max bytes,
 * cutoff. Returns {cur, after, upto, ahead, cut, member...}: ahead = the given after was beyond
 * cur; cut = the seq the page stops at when it does not reach upto, else 0. */
static const char read_script[] =
    LUA_TRIM
    "local cur = tonumber(redis.call('GET', KEYS[1]) or '0') "
    "local after = cur "
    "local ahead = 0 "
    "if ARGV[1] ~= '' then after = tonumber(ARGV[1]) "
    "elseif ARGV[2] ~= '' then "
    "  after = tonumber(redis.call('HGET', KEYS[3], ARGV[2]) or "
    "                   redis.call('HGET', KEYS[4], ARGV[2]) or cur) "
    "end "
    "if after > cur then after = cur ahead = 1 end "
    "local upto = tonumber(ARGV[3]) "
    "if upto == 0 or upto > cur then upto = cur end "
    "local out = {cur, after, upto, ahead, 0} "
    "if upto <= after then return out end "
    "trim(KEYS[2], tonumber(ARGV[6])) "
    "local limit, maxb = tonumber(ARGV[4]), tonumber(ARGV[5]) "
    "local lo, hi = '(' .. string.format('%d', after), string.format('%d', upto) "
    "local n, bytes, full = 0, 0, false "
    "while n < limit and not full do "
    "  local items = redis.call('ZRANGEBYSCORE', KEYS[2], lo, hi, 'LIMIT', n, "
    "                           math.min(64, limit - n)) "
    "  for _, m in ipairs(items) do "
    "    if n > 0 and bytes + #m > maxb then full = true break end "
    "    bytes = bytes + #m "
    "    n = n + 1 "
    "    out[#out + 1] = m "
    "  end "
    "  if #items < 64 then break end "
    "end "
    "if n > 0 and (full or n == limit) then "
    "  local last = tonumber(string.match(out[#out], '^(%d+):')) "
    "  if last < upto then out[5] = last end "
    "end "
    "return out";

/* KEYS: the position hash. ARGV: name, seq, ttl_ms. Moves the position forward only. */
static const char position_script[] =
    "local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') "
    "redis.call('PEXPIRE', KEYS[1], ARGV[3]) "
    "if tonumber(ARGV[2]) > cur then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1 end "
    "return 0";

// clang-format on

static redis_t *inbox_redis(const logic_ctx_t *ctx)
{
    redis_t *r = logic_ctx_redis(ctx);
    return r != NULL && redis_connected(r) ? r : NULL;
}

static long long cutoff_ms(const logic_ctx_t *ctx)
{
    return (long long)(daemon_wall_ms() - ctx->conf->inbox_max_age_ms);
}

/* ---------------------------------------------------------------------------------- store */

typedef struct store_s {
    logic_inbox_store_cb cb;
    void *arg;
    uint64_t *seqs;
    size_t n;
    size_t pending; /* chunks in flight */
    int status;
    redis_t *redis;
    int64_t replicas; /* inbox.replicas: WAIT for them after each chunk, 0 = no WAIT */
} store_t;

typedef struct store_chunk_s {
    store_t *st;
    size_t first, n; /* seqs[first .. first + n) */
    int64_t mid;     /* the chunk's first user: WAIT goes to the node of its keys */
} store_chunk_t;

static void store_chunk_done(store_chunk_t *ch)
{
    store_t *st = ch->st;
    free(ch);
    if (--st->pending > 0)
        return;
    st->cb(st->status, st->status == 0 ? st->seqs : NULL, st->arg);
    free(st->seqs);
    free(st);
}

static void on_waited(int status, const redis_reply_t *reply, void *arg)
{
    store_chunk_t *ch = arg;
    store_t *st = ch->st;
    if (status != 0 || redis_reply_type(reply) != REDIS_REPLY_T_INTEGER ||
        redis_reply_integer(reply) < st->replicas) {
        log_warn_rl("inbox store: fewer than inbox.replicas = %lld replicas acknowledged it",
                    (long long)st->replicas);
        st->status = HERALD_EUNAVAIL;
    }
    store_chunk_done(ch);
}

static void on_stored(int status, const redis_reply_t *reply, void *arg)
{
    store_chunk_t *ch = arg;
    store_t *st = ch->st;
    if (status != 0 || redis_reply_type(reply) != REDIS_REPLY_T_ARRAY ||
        redis_reply_count(reply) != ch->n) {
        if (status == 0 && redis_reply_type(reply) == REDIS_REPLY_T_ERROR)
            log_warn_rl("inbox store: %s", redis_reply_str(reply, NULL));
        st->status = HERALD_EUNAVAIL;
    } else {
        for (size_t i = 0; i < ch->n; i++)
            st->seqs[ch->first + i] = (uint64_t)redis_reply_integer(redis_reply_element(reply, i));
        /* Sent after the script's reply, so that a -MOVED it followed has updated the map and
         * WAIT reaches the master that ran it. The slot depends on the {<mid>} tag alone, so
         * the key needs no prefix here. */
        if (st->replicas > 0) {
            char key[REDIS_KEY_MAX];
            int klen = redis_key_seq(key, "", ch->mid);
            if (redis_wait(st->redis, key, (size_t)klen, (int)st->replicas, STORE_WAIT_MS,
                           on_waited, ch) == 0)
                return;
            st->status = HERALD_EUNAVAIL;
        }
    }
    store_chunk_done(ch);
}

int logic_inbox_store(const logic_ctx_t *ctx, const int64_t *mids, size_t n, int64_t from,
                      int32_t op, const uint8_t *body, size_t len, logic_inbox_store_cb cb,
                      void *arg)
{
    redis_t *redis = inbox_redis(ctx);
    if (redis == NULL || n == 0)
        return HERALD_EUNAVAIL;
    char tail[64], cutoff[24], max[24], ttl[24], share[24];
    size_t step = from != 0 ? 3 : 2; /* keys per user */
    snprintf(tail, sizeof(tail), ":%lld:%d:", (long long)daemon_wall_ms(), (int)op);
    snprintf(cutoff, sizeof(cutoff), "%lld", cutoff_ms(ctx));
    snprintf(max, sizeof(max), "%lld", (long long)ctx->conf->inbox_max_count);
    snprintf(ttl, sizeof(ttl), "%lld", (long long)ctx->conf->inbox_max_age_ms);
    snprintf(share, sizeof(share), "%lld",
             from != 0 ? (long long)ctx->conf->inbox_sender_share : 0LL);
    store_t *st = xcalloc(1, sizeof(*st));
    st->cb = cb;
    st->arg = arg;
    st->seqs = xcalloc(n, sizeof(*st->seqs));
    st->n = n;
    st->redis = redis;
    st->replicas = ctx->conf->inbox_replicas;
    /* argv: EVAL script numkeys keys... tail body cutoff max ttl share */
    size_t cap = 3 + 3 * STORE_CHUNK + 6;
    const char **argv = xcalloc(cap, sizeof(*argv));
    size_t *argvlen = xcalloc(cap, sizeof(*argvlen));
    char(*keys)[REDIS_KEY_MAX] = xmalloc(3 * STORE_CHUNK * sizeof(*keys));
    /* On Redis Cluster each user's keys are a slot of their own ({<mid>}, redis_keys.h) and a
     * script may only touch one slot: one EVAL per user there. */
    size_t chunk = redis_is_cluster(redis) ? 1 : STORE_CHUNK;
    for (size_t first = 0; first < n; first += chunk) {
        size_t m = n - first < chunk ? n - first : chunk;
        char numkeys[16];
        snprintf(numkeys, sizeof(numkeys), "%zu", step * m);
        size_t a = 0;
        argv[a++] = "EVAL";
        argv[a++] = store_script;
        argv[a++] = numkeys;
        for (size_t i = 0; i < m; i++) {
            const char *prefix = ctx->conf->redis.prefix;
            redis_key_seq(keys[step * i], prefix, mids[first + i]);
            redis_key_inbox(keys[step * i + 1], prefix, mids[first + i]);
            if (from != 0)
                redis_key_inbox_from(keys[step * i + 2], prefix, mids[first + i], from);
            for (size_t k = 0; k < step; k++)
                argv[a++] = keys[step * i + k];
        }
        argv[a++] = tail;
        size_t body_at = a;
        argv[a++] = len ? (const char *)body : "";
        argv[a++] = cutoff;
        argv[a++] = max;
        argv[a++] = ttl;
        argv[a++] = share;
        for (size_t i = 0; i < a; i++)
            argvlen[i] = i == body_at ? len : strlen(argv[i]);
        store_chunk_t *ch = xmalloc(sizeof(*ch));
        *ch = (store_chunk_t){st, first, m, mids[first]};
        /* One Redis: once the first chunk is queued the others are too (nothing runs the loop
         * meanwhile, so the connection cannot drop). A cluster client refuses the users whose
         * master is down (a failover under way): the store then fails as a whole (the users
         * already queued keep their entry, as when a later chunk's reply is an error). */
        if (redis_command_argv(redis, on_stored, ch, (int)a, argv, argvlen) != 0) {
            free(ch);
            if (st->pending > 0)
                st->status = HERALD_EUNAVAIL;
            break;
        }
        st->pending++;
    }
    free(argv);
    free(argvlen);
    free(keys);
    if (st->pending == 0) {
        free(st->seqs);
        free(st);
        return HERALD_EUNAVAIL;
    }
    return 0;
}

/* --------------------------------------------------------------------------------- newest */

typedef struct newest_s {
    logic_inbox_newest_cb cb;
    void *arg;
    size_t n;
    size_t pending; /* commands not answered yet */
    int failed;
    uint64_t *seqs;
} newest_t;

/* One command of a newest read: MGET of every user (one Redis), or GET of one (Redis Cluster,
 * where each user's seq:{<mid>} is in a slot of its own). */
typedef struct newest_part_s {
    newest_t *nw;
    size_t first, count;
} newest_part_t;

/* A seq:{<mid>} value to its number; 0 for nil (the user never got a push). */
static uint64_t seq_value(const redis_reply_t *v)
{
    size_t len;
    const char *str = v ? redis_reply_str(v, &len) : NULL;
    char num[24];
    if (str == NULL || len == 0 || len >= sizeof(num))
        return 0;
    memcpy(num, str, len);
    num[len] = '\0';
    return strtoull(num, NULL, 10);
}

static void on_newest(int status, const redis_reply_t *reply, void *arg)
{
    newest_part_t part = *(newest_part_t *)arg;
    newest_t *nw = part.nw;
    free(arg);
    int type = status == 0 ? redis_reply_type(reply) : 0;
    if (type == REDIS_REPLY_T_ARRAY && redis_reply_count(reply) == part.count)
        for (size_t i = 0; i < part.count; i++)
            nw->seqs[part.first + i] = seq_value(redis_reply_element(reply, i));
    else if (part.count == 1 && (type == REDIS_REPLY_T_STRING || type == REDIS_REPLY_T_NIL))
        nw->seqs[part.first] = seq_value(reply);
    else
        nw->failed = 1;
    if (--nw->pending > 0)
        return;
    if (nw->failed) {
        log_warn_rl("inbox: reading users' newest seq failed");
        nw->cb(HERALD_EUNAVAIL, NULL, nw->arg);
    } else {
        nw->cb(0, nw->seqs, nw->arg);
    }
    free(nw->seqs);
    free(nw);
}

int logic_inbox_newest(const logic_ctx_t *ctx, const int64_t *mids, size_t n,
                       logic_inbox_newest_cb cb, void *arg)
{
    if (n == 0 || n > RPC_REPLAY_BATCH_MAX)
        return HERALD_EINVAL;
    redis_t *redis = inbox_redis(ctx);
    if (redis == NULL)
        return HERALD_EUNAVAIL;
    size_t per = redis_is_cluster(redis) ? 1 : n; /* users per command */
    const char **argv = xcalloc(per + 1, sizeof(*argv));
    size_t *argvlen = xcalloc(per + 1, sizeof(*argvlen));
    char(*keys)[REDIS_KEY_MAX] = xmalloc(per * sizeof(*keys));
    newest_t *nw = xcalloc(1, sizeof(*nw));
    *nw = (newest_t){cb, arg, n, 0, 0, xcalloc(n, sizeof(uint64_t))};
    argv[0] = per == 1 ? "GET" : "MGET";
    argvlen[0] = strlen(argv[0]);
    for (size_t first = 0; first < n; first += per) {
        for (size_t i = 0; i < per; i++) {
            argvlen[i + 1] =
                (size_t)redis_key_seq(keys[i], ctx->conf->redis.prefix, mids[first + i]);
            argv[i + 1] = keys[i];
        }
        newest_part_t *part = xmalloc(sizeof(*part));
        *part = (newest_part_t){nw, first, per};
        if (redis_command_argv(redis, on_newest, part, (int)per + 1, argv, argvlen) != 0) {
            free(part);
            nw->failed = 1; /* a cluster master is down: the answered parts finish the call */
            break;
        }
        nw->pending++;
    }
    free(keys);
    free(argvlen);
    free(argv);
    if (nw->pending == 0) {
        free(nw->seqs);
        free(nw);
        return HERALD_EUNAVAIL;
    }
    return 0;
}

/* ----------------------------------------------------------------------------------- read */

typedef struct read_s {
    logic_inbox_read_cb cb;
    void *arg;
} read_t;

/* Parses the decimal digits at *p up to the separator ':'; moves *p past it. */
static int parse_num(const char **p, const char *end, uint64_t *out)
{
    const char *q = *p;
    uint64_t v = 0;
    int digits = 0;
    while (q < end && *q >= '0' && *q <= '9' && digits < 19) {
        v = v * 10 + (uint64_t)(*q++ - '0');
        digits++;
    }
    if (digits == 0 || q >= end || *q != ':')
        return -1;
    *p = q + 1;
    *out = v;
    return 0;
}

/* Member "<seq>:<created_ms>:<op>:<body>" -> proto (body borrowed from the member). */
static int parse_entry(const char *m, size_t len, Herald__Proto *p)
{
    const char *q = m, *end = m + len;
    uint64_t seq, created, op;
    if (parse_num(&q, end, &seq) != 0 || parse_num(&q, end, &created) != 0 ||
        parse_num(&q, end, &op) != 0 || op > INT32_MAX || seq == 0)
        return -1;
    herald__proto__init(p);
    p->ver = PROTO_VERSION;
    p->op = (int32_t)op;
    p->seq = (uint32_t)seq;
    p->body.data = (uint8_t *)q;
    p->body.len = (size_t)(end - q);
    return 0;
}

static uint64_t element_u64(const redis_reply_t *reply, size_t i)
{
    long long v = redis_reply_integer(redis_reply_element(reply, i));
    return v > 0 ? (uint64_t)v : 0;
}

static void on_read(int status, const redis_reply_t *reply, void *arg)
{
    read_t *rd = arg;
    size_t count = status == 0 && redis_reply_type(reply) == REDIS_REPLY_T_ARRAY
                       ? redis_reply_count(reply)
                       : 0;
    if (count < 5) {
        if (status == 0 && redis_reply_type(reply) == REDIS_REPLY_T_ERROR)
            log_warn_rl("inbox read: %s", redis_reply_str(reply, NULL));
        rd->cb(HERALD_EUNAVAIL, NULL, rd->arg);
        free(rd);
        return;
    }
    logic_inbox_page_t page = {0};
    page.cur = element_u64(reply, 0);
    page.after = element_u64(reply, 1);
    uint64_t upto = element_u64(reply, 2);
    int ahead = element_u64(reply, 3) != 0;
    uint64_t cut = element_u64(reply, 4);
    page.last = cut ? cut : upto > page.after ? upto : page.after;
    Herald__Proto *protos = xcalloc(count - 5 + 1, sizeof(*protos));
    page.protos = xcalloc(count - 5 + 1, sizeof(*page.protos));
    uint64_t prev = page.after;
    for (size_t i = 5; i < count; i++) {
        size_t len;
        const char *m = redis_reply_str(redis_reply_element(reply, i), &len);
        Herald__Proto *p = &protos[page.n];
        /* A member that does not parse, or breaks the order, is skipped: it cannot be told to
         * the client as what it was, and the position moves past it like past a trimmed one. */
        if (m == NULL || parse_entry(m, len, p) != 0 || p->seq <= prev || p->seq > page.last) {
            log_warn_rl("inbox read: skipping a malformed entry");
            continue;
        }
        prev = p->seq;
        page.protos[page.n++] = p;
    }
    /* Numbers without an entry between after and last were trimmed (count or age). */
    page.recovered = !ahead && (page.last <= page.after ||
                                (page.n > 0 && page.protos[0]->seq == page.after + 1));
    rd->cb(0, &page, rd->arg);
    free(page.protos);
    free(protos);
    free(rd);
}

int logic_inbox_read(const logic_ctx_t *ctx, int64_t mid, const logic_inbox_from_t *from,
                     logic_inbox_read_cb cb, void *arg)
{
    redis_t *redis = inbox_redis(ctx);
    if (redis == NULL)
        return HERALD_EUNAVAIL;
    const char *prefix = ctx->conf->redis.prefix;
    char keys[4][REDIS_KEY_MAX];
    redis_key_seq(keys[0], prefix, mid);
    redis_key_inbox(keys[1], prefix, mid);
    redis_key_ack(keys[2], prefix, mid);
    redis_key_sent(keys[3], prefix, mid);
    char after[24] = "", upto[24], limit[24], bytes[24], cutoff[24];
    if (from->has_after)
        snprintf(after, sizeof(after), "%llu", (unsigned long long)from->after);
    snprintf(upto, sizeof(upto), "%llu", (unsigned long long)from->upto);
    snprintf(limit, sizeof(limit), "%lld", (long long)ctx->conf->inbox_max_count);
    snprintf(bytes, sizeof(bytes), "%lld", (long long)ctx->conf->inbox_page_bytes);
    snprintf(cutoff, sizeof(cutoff), "%lld", cutoff_ms(ctx));
    const char *argv[] = {"EVAL",  read_script, "4",
                          keys[0], keys[1],     keys[2],
                          keys[3], after,       from->name ? from->name : "",
                          upto,    limit,       bytes,
                          cutoff};
    size_t argvlen[sizeof(argv) / sizeof(argv[0])];
    for (size_t i = 0; i < sizeof(argv) / sizeof(argv[0]); i++)
        argvlen[i] = strlen(argv[i]);
    read_t *rd = xmalloc(sizeof(*rd));
    *rd = (read_t){cb, arg};
    if (redis_command_argv(redis, on_read, rd, (int)(sizeof(argv) / sizeof(argv[0])), argv,
                           argvlen) != 0) {
        free(rd);
        return HERALD_EUNAVAIL;
    }
    return 0;
}

/* ------------------------------------------------------------------------------- position */

static void on_position(int status, const redis_reply_t *reply, void *arg)
{
    (void)arg;
    if (status != 0 || redis_reply_type(reply) != REDIS_REPLY_T_INTEGER)
        log_warn_rl("inbox: storing a delivery position failed");
}

int logic_inbox_position(const logic_ctx_t *ctx, logic_inbox_pos_t which, int64_t mid,
                         const char *name, uint64_t seq, redis_reply_cb cb, void *arg)
{
    redis_t *redis = logic_ctx_redis(ctx);
    if (redis == NULL)
        return HERALD_EUNAVAIL;
    char key[REDIS_KEY_MAX];
    if (which == LOGIC_INBOX_ACK)
        redis_key_ack(key, ctx->conf->redis.prefix, mid);
    else
        redis_key_sent(key, ctx->conf->redis.prefix, mid);
    int rc = redis_command(redis, cb ? cb : on_position, arg, "EVAL %s 1 %s %s %llu %lld",
                           position_script, key, name, (unsigned long long)seq,
                           (long long)ctx->conf->inbox_max_age_ms);
    return rc == 0 ? 0 : HERALD_EUNAVAIL;
}
