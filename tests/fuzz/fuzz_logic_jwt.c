/* libFuzzer target: the client JWT parser (logic_jwt.c). The first byte picks the entry point:
 * even, the rest is a whole token verified with an HS256 key (FUZZ_SECRET; the corpus holds
 * tokens signed with it, so mutations reach the signature and the claims); odd, the rest is a
 * decoded payload given to the claims step alone, which a fuzzer could not reach through a
 * signature. Bit 1 of that byte makes the policy require an audience and an issuer. What is
 * accepted must hold what logic_jwt.h promises; what is refused must leave nothing to release and
 * say why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logic_body.h"
#include "logic_jwt.h"
#include "proto.h"

#define FUZZ_SECRET "fuzz-secret"
#define FUZZ_NOW 1700000000LL

static logic_jwt_keys_t *g_keys;

static void check(int rc, const logic_jwt_claims_t *c, const char *err)
{
    if (rc != 0) {
        if (err[0] == '\0' || c->platform != NULL || c->rooms.n != 0 || c->rooms.ids != NULL)
            abort();
        return;
    }
    if (c->mid < 0 || c->rooms.n > LOGIC_ROOMS_MAX)
        abort();
    if (c->platform != NULL &&
        (c->platform[0] == '\0' || strlen(c->platform) > LOGIC_BODY_MAX_PLATFORM))
        abort();
    for (size_t i = 0; i < c->rooms.n; i++)
        if (!proto_room_id_valid(c->rooms.ids[i], strlen(c->rooms.ids[i])))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (g_keys == NULL) {
        char err[200];
        g_keys = logic_jwt_keys_new(FUZZ_SECRET, "", err, sizeof(err));
        if (g_keys == NULL)
            abort();
    }
    if (size == 0)
        return 0;
    logic_jwt_claims_t c;
    char err[200] = "";
    int rc;
    const int strict = (data[0] & 2) != 0;
    const logic_jwt_policy_t policy = {
        .now_s = FUZZ_NOW,
        .leeway_s = 5,
        .audience = strict ? "herald" : NULL,
        .issuer = strict ? "fuzz-issuer" : NULL,
    };
    if (data[0] % 2 == 0) {
        /* the token as comet hands it over: a C string, so a NUL ends it */
        char *token = strndup((const char *)data + 1, size - 1);
        rc = logic_jwt_verify(g_keys, token, strlen(token), &policy, &c, err, sizeof(err));
        free(token);
    } else {
        rc = logic_jwt_claims_parse(data + 1, size - 1, &policy, &c, err, sizeof(err));
    }
    check(rc, &c, err);
    if (rc == 0)
        logic_jwt_claims_deinit(&c);
    return 0;
}
