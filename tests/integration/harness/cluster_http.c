/* cluster_http.c - HTTP requests to logic's API and the daemons' admin endpoints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "http_client.h"

#define CLUSTER_HTTP_TIMEOUT_MS 5000

/* One request; headers as http_client_req_t's (may be NULL); over https trusting
 * <https_pki>/ca.pem when https_pki is not NULL. */
static int cluster_http_send(int port, const char *https_pki, const char *method,
                             const char *path_query, const char *const *headers, const char *body,
                             json_t **json)
{
    if (json)
        *json = NULL;
    char url[2048], ca[512];
    int rc = http_client_url(url, sizeof(url), https_pki ? "https" : "http", "127.0.0.1", port,
                             path_query);
    if (rc != 0)
        return rc;
    http_client_t *tls = NULL;
    if (https_pki != NULL) {
        snprintf(ca, sizeof(ca), "%s/ca.pem", https_pki);
        tls = http_client_new(ca);
    }
    http_client_req_t req = {.method = method,
                             .url = url,
                             .headers = headers,
                             .body = body,
                             .body_len = body ? strlen(body) : 0,
                             .timeout_ms = CLUSTER_HTTP_TIMEOUT_MS};
    http_client_resp_t resp;
    rc = http_client_request(tls, &req, &resp);
    http_client_free(tls);
    if (rc != 0)
        return rc;
    if (json)
        *json = json_loads(resp.body, JSON_DECODE_ANY, NULL);
    free(resp.body);
    return resp.status;
}

int cluster_http_port(int port, const char *method, const char *path_query, const char *body,
                      json_t **json)
{
    return cluster_http_send(port, NULL, method, path_query, NULL, body, json);
}

int cluster_http(cluster_t *c, const char *method, const char *path_query, const char *body,
                 json_t **json)
{
    const char *key = cluster_bearer_key(c);
    char auth[512];
    const char *headers[] = {auth, NULL};
    if (key != NULL)
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
    return cluster_http_send(cluster_logic_http_port(c), cluster_logic_https_pki(c), method,
                             path_query, key != NULL ? headers : NULL, body, json);
}

void cluster_post_ok(cluster_t *c, const char *path_query, const char *body)
{
    json_t *j = NULL;
    int st = cluster_http(c, "POST", path_query, body, &j);
    json_t *code = json_object_get(j, "code");
    if (st != 200 || !json_is_integer(code) || json_integer_value(code) != 0) {
        char *dump = j ? json_dumps(j, JSON_COMPACT) : NULL;
        fail_msg("POST %s: status %d, reply %s", path_query, st, dump ? dump : "(not JSON)");
    }
    json_decref(j);
}

char *cluster_issue_token(cluster_t *c, int64_t mid)
{
    char path[128];
    snprintf(path, sizeof(path), "/herald/v1/tokens?mid=%lld", (long long)mid);
    json_t *j = NULL;
    int st = cluster_http(c, "POST", path, NULL, &j);
    /* The token sits in "data" (goim reply shape); accept it at the top level too. */
    json_t *data = json_object_get(j, "data");
    const char *tok = json_string_value(json_object_get(json_is_object(data) ? data : j, "token"));
    if (st != 200 || tok == NULL || !*tok) {
        char *dump = j ? json_dumps(j, JSON_COMPACT) : NULL;
        fail_msg("POST %s: status %d, reply %s", path, st, dump ? dump : "(not JSON)");
    }
    char *out = strdup(tok);
    json_decref(j);
    return out;
}

bool cluster_metric(int port, const char *path, const char *name, long long *value)
{
    json_t *j = NULL;
    int st = cluster_http_port(port, "GET", path, NULL, &j);
    json_t *v = json_object_get(j, name);
    if (v == NULL)
        v = json_object_get(json_object_get(j, "data"), name);
    bool ok = st == 200 && json_is_integer(v);
    if (ok)
        *value = json_integer_value(v);
    json_decref(j);
    return ok;
}

/* Percent-encodes everything but [A-Za-z0-9] into out (3 * strlen(in) + 1 bytes). */
static void cluster_url_escape(const char *in, char *out)
{
    for (; *in; in++) {
        unsigned char ch = (unsigned char)*in;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
            *out++ = (char)ch;
        else
            out += sprintf(out, "%%%02X", ch);
    }
    *out = '\0';
}

void cluster_room_query(const char *room, const char *param, char *out, size_t len)
{
    const char *sep = strstr(room, "://");
    if (sep == NULL || sep - room >= 64 || strlen(sep + 3) >= 256)
        fail_msg("room id \"%s\" is not <type>://<id>", room);
    char type[64], type_esc[3 * 64], id_esc[3 * 256];
    snprintf(type, sizeof(type), "%.*s", (int)(sep - room), room);
    cluster_url_escape(type, type_esc);
    cluster_url_escape(sep + 3, id_esc);
    snprintf(out, len, "type=%s&%s=%s", type_esc, param, id_esc);
}

void cluster_push_mids(cluster_t *c, int op, const int64_t *mids, int n, const char *body)
{
    char path[1024];
    int o = snprintf(path, sizeof(path), "/goim/push/mids?operation=%d", op);
    for (int i = 0; i < n && o < (int)sizeof(path); i++)
        o += snprintf(path + o, sizeof(path) - (size_t)o, "&mids=%lld", (long long)mids[i]);
    cluster_post_ok(c, path, body);
}

void cluster_push_key(cluster_t *c, int op, const char *key, const char *body)
{
    char path[1024], esc[3 * 256];
    assert_true(strlen(key) < 256);
    cluster_url_escape(key, esc);
    snprintf(path, sizeof(path), "/goim/push/keys?operation=%d&keys=%s", op, esc);
    cluster_post_ok(c, path, body);
}

void cluster_push_room(cluster_t *c, int op, const char *room, const char *body)
{
    char path[1024];
    int o = snprintf(path, sizeof(path), "/goim/push/room?operation=%d&", op);
    cluster_room_query(room, "room", path + o, sizeof(path) - (size_t)o);
    cluster_post_ok(c, path, body);
}

void cluster_push_all(cluster_t *c, int op, const char *body)
{
    char path[128];
    snprintf(path, sizeof(path), "/goim/push/all?operation=%d&speed=0", op);
    cluster_post_ok(c, path, body);
}

/* {"password":...}: the tests' passwords are JSON-safe. */
static void password_body(char *out, size_t len, const char *password)
{
    snprintf(out, len, "{\"password\":\"%s\"}", password);
}

int cluster_register(cluster_t *c, const char *name, const char *password, int64_t *mid)
{
    char path[160], body[256];
    snprintf(path, sizeof(path), "/herald/v1/users?name=%s", name);
    password_body(body, sizeof(body), password);
    json_t *j = NULL;
    int status = cluster_http(c, "POST", path, body, &j);
    if (mid != NULL)
        *mid = json_integer_value(json_object_get(json_object_get(j, "data"), "mid"));
    json_decref(j);
    return status;
}

int64_t cluster_register_ok(cluster_t *c, const char *name)
{
    int64_t mid = 0;
    int status = cluster_register(c, name, CLUSTER_PASSWORD, &mid);
    if (status != 200 || mid <= 0)
        fail_msg("register %s: status %d", name, status);
    return mid;
}

int cluster_login(cluster_t *c, const char *name, const char *password, const char *platform,
                  json_t **json)
{
    char path[200], body[256];
    snprintf(path, sizeof(path), "/herald/v1/login?name=%s%s%s", name, platform ? "&platform=" : "",
             platform ? platform : "");
    password_body(body, sizeof(body), password);
    return cluster_http(c, "POST", path, body, json);
}
