/* logic_password.c - argon2id on the thread pool (see logic_password.h). */
#include "logic_password.h"

#include "buf.h"
#include "herald_err.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct logic_password_s {
    uv_loop_t *loop;
    const logic_conf_t *conf;
    char decoy[LOGIC_PASSWORD_HASH_MAX]; /* argon2id of random bytes, made by logic_password_new */
    size_t inflight;
    int closing;
    void (*close_cb)(void *arg);
    void *close_arg;
};

/* One hash or verification. Heap, freed in on_done after its callback. */
typedef struct job_s {
    uv_work_t work;
    logic_password_t *p;
    char pw[LOGIC_PASSWORD_MAX + 1];
    size_t len;
    char hash[LOGIC_PASSWORD_HASH_MAX]; /* verify: the stored hash; hash: the result */
    unsigned long long ops;
    size_t mem;
    int verify;
    int decoy; /* verify against p->decoy: the answer is always HERALD_EAUTH */
    int status;
    logic_password_hash_cb hash_cb;
    logic_password_verify_cb verify_cb;
    void *arg;
} job_t;

logic_password_t *logic_password_new(uv_loop_t *loop, const logic_conf_t *conf)
{
    if (sodium_init() < 0)
        return NULL;
    logic_password_t *p = xcalloc(1, sizeof(*p));
    unsigned char secret[32];
    p->loop = loop;
    p->conf = conf;
    /* A password nobody knows, hashed with the configured cost: verifying against it takes as
     * long as a real check. Made once here (one hash's time at start-up). */
    randombytes_buf(secret, sizeof(secret));
    if (crypto_pwhash_str_alg(p->decoy, (const char *)secret, sizeof(secret),
                              (unsigned long long)conf->login_password_ops,
                              (size_t)conf->login_password_mem,
                              crypto_pwhash_ALG_ARGON2ID13) != 0) {
        free(p);
        return NULL;
    }
    sodium_memzero(secret, sizeof(secret));
    return p;
}

static void maybe_free(logic_password_t *p)
{
    if (!p->closing || p->inflight > 0)
        return;
    void (*cb)(void *) = p->close_cb;
    void *arg = p->close_arg;
    free(p);
    if (cb != NULL)
        cb(arg);
}

void logic_password_close(logic_password_t *p, void (*cb)(void *arg), void *arg)
{
    p->closing = 1;
    p->close_cb = cb;
    p->close_arg = arg;
    maybe_free(p);
}

int logic_password_ok(const char *pw, size_t len)
{
    if (pw == NULL || len < LOGIC_PASSWORD_MIN || len > LOGIC_PASSWORD_MAX ||
        memchr(pw, '\0', len) != NULL)
        return HERALD_EINVAL;
    return 0;
}

/* Thread pool: nothing here touches the loop or p. */
static void on_work(uv_work_t *w)
{
    job_t *j = w->data;
    if (j->verify) {
        j->status = crypto_pwhash_str_verify(j->hash, j->pw, j->len) == 0 ? 0 : HERALD_EAUTH;
    } else {
        j->status = crypto_pwhash_str_alg(j->hash, j->pw, j->len, j->ops, j->mem,
                                          crypto_pwhash_ALG_ARGON2ID13) == 0
                        ? 0
                        : HERALD_EINTERNAL;
    }
    sodium_memzero(j->pw, sizeof(j->pw));
}

static void on_done(uv_work_t *w, int status)
{
    job_t *j = w->data;
    logic_password_t *p = j->p;
    if (status != 0) /* cancelled: never ran */
        j->status = j->verify ? HERALD_EAUTH : HERALD_EINTERNAL;
    if (j->verify)
        j->verify_cb(j->decoy ? HERALD_EAUTH : j->status, j->arg);
    else
        j->hash_cb(j->status, j->status == 0 ? j->hash : NULL, j->arg);
    sodium_memzero(j, sizeof(*j));
    free(j);
    p->inflight--;
    maybe_free(p);
}

static int start(logic_password_t *p, job_t *j, const char *pw, size_t len)
{
    if (p->closing) {
        free(j);
        return HERALD_EUNAVAIL;
    }
    if (p->inflight >= LOGIC_PASSWORD_INFLIGHT) {
        free(j);
        return HERALD_ERATE;
    }
    j->p = p;
    j->work.data = j;
    memcpy(j->pw, pw, len);
    j->len = len;
    j->ops = (unsigned long long)p->conf->login_password_ops;
    j->mem = (size_t)p->conf->login_password_mem;
    if (uv_queue_work(p->loop, &j->work, on_work, on_done) != 0) {
        sodium_memzero(j, sizeof(*j));
        free(j);
        return HERALD_EUNAVAIL;
    }
    p->inflight++;
    return 0;
}

int logic_password_hash(logic_password_t *p, const char *pw, size_t len, logic_password_hash_cb cb,
                        void *arg)
{
    if (logic_password_ok(pw, len) != 0)
        return HERALD_EINVAL;
    job_t *j = xcalloc(1, sizeof(*j));
    j->hash_cb = cb;
    j->arg = arg;
    return start(p, j, pw, len);
}

static int verify(logic_password_t *p, const char *hash, const char *pw, size_t len, int decoy,
                  logic_password_verify_cb cb, void *arg)
{
    size_t hlen = hash ? strlen(hash) : 0;
    if (logic_password_ok(pw, len) != 0 || hlen == 0 || hlen >= LOGIC_PASSWORD_HASH_MAX)
        return HERALD_EINVAL;
    job_t *j = xcalloc(1, sizeof(*j));
    j->verify = 1;
    j->decoy = decoy;
    j->verify_cb = cb;
    j->arg = arg;
    memcpy(j->hash, hash, hlen + 1);
    return start(p, j, pw, len);
}

int logic_password_verify(logic_password_t *p, const char *hash, const char *pw, size_t len,
                          logic_password_verify_cb cb, void *arg)
{
    return verify(p, hash, pw, len, 0, cb, arg);
}

int logic_password_verify_decoy(logic_password_t *p, const char *pw, size_t len,
                                logic_password_verify_cb cb, void *arg)
{
    return verify(p, p->decoy, pw, len, 1, cb, arg);
}
