/* cluster_client.c - authenticated client connections to the comets of a test cluster. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

#define CLUSTER_CONNECT_TIMEOUT_MS 3000
#define CLUSTER_AUTH_TIMEOUT_MS 5000

client_t *cluster_connect(cluster_t *c, int index, client_transport_t transport,
                          const char *auth_json, json_t **reply, char *err, size_t errlen)
{
    if (reply)
        *reply = NULL;
    char ca[512] = "";
    if (cluster_comet_tls_pki(c) != NULL)
        snprintf(ca, sizeof(ca), "%s/ca.pem", cluster_comet_tls_pki(c));
    client_tls_t tls = {.ca_file = ca[0] ? ca : NULL};
    client_t *cl =
        client_connect_tls(transport, "127.0.0.1", cluster_comet_port(c, index, transport), &tls,
                           CLUSTER_CONNECT_TIMEOUT_MS, err, errlen);
    if (cl == NULL)
        return NULL;
    client_packet_t p = {0};
    int rc = client_auth(cl, auth_json, &p, CLUSTER_AUTH_TIMEOUT_MS);
    if (rc != 0) {
        snprintf(err, errlen, "auth failed: client_auth returned %d, reply op %u body \"%.*s\"", rc,
                 p.op, (int)p.body_len, p.body ? (const char *)p.body : "");
        client_packet_free(&p);
        client_free(cl);
        return NULL;
    }
    json_t *j = json_loadb((const char *)p.body, p.body_len, 0, NULL);
    json_t *code = json_object_get(j, "code");
    if (p.op != 8 || !json_is_integer(code) || json_integer_value(code) != 0) {
        snprintf(err, errlen, "auth refused: op %u body %.*s", p.op, (int)p.body_len,
                 p.body ? (const char *)p.body : "");
        json_decref(j);
        client_packet_free(&p);
        client_free(cl);
        return NULL;
    }
    client_packet_free(&p);
    if (reply)
        *reply = j;
    else
        json_decref(j);
    return cl;
}

const char *cluster_transport_name(client_transport_t transport)
{
    static const char *const names[] = {"tcp", "ws", "tls", "wss"};
    return transport >= CLIENT_TCP && transport <= CLIENT_WSS ? names[transport] : "?";
}

char *cluster_auth_body(const char *token, const char *room, const int *accepts, int n_accepts)
{
    json_t *acc = json_array();
    for (int i = 0; i < n_accepts; i++)
        json_array_append_new(acc, json_integer(accepts[i]));
    json_t *body = json_pack("{s:s, s:s, s:s, s:o, s:i}", "token", token, "room_id",
                             room ? room : "", "platform", "test", "accepts", acc, "last_seq", 0);
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return s;
}

client_t *cluster_user(cluster_t *c, int index, client_transport_t transport, int64_t mid,
                       const char *room, int accept_op, char **key)
{
    char *token = cluster_issue_token(c, mid);
    char *auth = cluster_auth_body(token, room, &accept_op, accept_op ? 1 : 0);
    char err[256] = "";
    json_t *reply = NULL;
    client_t *cl = cluster_connect(c, index, transport, auth, &reply, err, sizeof(err));
    free(auth);
    free(token);
    if (cl == NULL)
        fail_msg("mid %lld on comet %d (%s): %s", (long long)mid, index,
                 cluster_transport_name(transport), err);
    json_t *jmid = json_object_get(reply, "mid");
    const char *jkey = json_string_value(json_object_get(reply, "key"));
    if (!json_is_integer(jmid) || json_integer_value(jmid) != mid || jkey == NULL || !*jkey) {
        char *dump = json_dumps(reply, JSON_COMPACT);
        fail_msg("mid %lld: auth reply without the right mid or a key: %s", (long long)mid,
                 dump ? dump : "(null)");
    }
    if (key)
        *key = strdup(jkey);
    json_decref(reply);
    return cl;
}
