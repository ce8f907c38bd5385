/* libFuzzer target: the JSON bodies clients send through comet (logic_body.c): the OpAuth body
 * as logic_rpc_connect hands it over, and the OpSendMsg upstream body as logic_rpc_im_receive
 * does, from a connection in room "live://1" and from one in no room. The whole input is the
 * body, so the corpus is plain JSON. What validates must hold what logic_body.h promises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "logic_body.h"
#include "logic_params.h"

#define FUZZ_FROM_MID 7
#define FUZZ_ROOM "live://1"

static void check_string(const char *s, size_t max, int may_be_empty)
{
    if (s != NULL && (strlen(s) > max || (!may_be_empty && s[0] == '\0')))
        abort();
}

static void fuzz_auth(const uint8_t *data, size_t size)
{
    logic_body_auth_t a;
    char err[200] = "";
    if (logic_body_auth(data, size, &a, err, sizeof(err)) != 0) {
        if (err[0] == '\0' || a.token != NULL || a.accepts != NULL)
            abort(); /* refused: a message, and nothing left to release */
        return;
    }
    check_string(a.token, LOGIC_BODY_MAX_TOKEN, 0);
    check_string(a.room_id, LOGIC_PARAMS_MAX_ROOM, 1);
    check_string(a.platform, LOGIC_BODY_MAX_PLATFORM, 1);
    check_string(a.device, LOGIC_BODY_MAX_DEVICE, 0);
    if (a.key != NULL && logic_params_key_ok(a.key, strlen(a.key)) != 0)
        abort();
    if (a.naccepts > LOGIC_BODY_MAX_ACCEPTS || (a.naccepts > 0) != (a.accepts != NULL) ||
        a.mid < 0 || (!a.has_mid && a.mid != 0))
        abort();
    for (size_t i = 0; i < a.naccepts; i++)
        if (a.accepts[i] < 0)
            abort();
    for (const char *d = a.device; d != NULL && *d; d++)
        if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-", *d) ==
            NULL)
            abort();
    logic_body_auth_deinit(&a);
}

static void fuzz_upstream(const uint8_t *data, size_t size, const char *conn_room)
{
    logic_push_req_t r;
    char err[200] = "";
    if (logic_body_upstream(data, size, FUZZ_FROM_MID, conn_room, &r, err, sizeof(err)) != 0) {
        if (err[0] == '\0')
            abort();
        return;
    }
    if (r.from_mid != FUZZ_FROM_MID || r.operation < 1000 || r.msg == NULL ||
        r.msg_len != strlen((const char *)r.msg))
        abort();
    if (r.kind == LOGIC_PUSH_ROOM) {
        if (r.room == NULL || strcmp(r.room, conn_room) != 0)
            abort(); /* only to the sender's own room */
    } else if (r.kind != LOGIC_PUSH_MIDS || r.nmids != 1 || r.mids[0] < 0) {
        abort();
    }
    /* The body pushed is msg re-serialised: it must be JSON again. */
    json_t *back = json_loadb((const char *)r.msg, r.msg_len, JSON_DECODE_ANY, NULL);
    if (back == NULL)
        abort();
    json_decref(back);
    logic_push_req_deinit(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_auth(data, size);
    fuzz_upstream(data, size, FUZZ_ROOM);
    fuzz_upstream(data, size, "");
    return 0;
}
