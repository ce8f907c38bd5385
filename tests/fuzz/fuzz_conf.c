/* libFuzzer target: the configuration loader (conf_load: libinih and every value setter), then
 * the list and address parsers the daemons apply to the strings it loaded (conf_list_split,
 * addr_split). The input is an INI file, written to a temp file since conf_load reads a path.
 * The table has one key of each type; what loads must be within the table's bounds. HERALD_*
 * variables in the environment apply too (none are set when CI runs it). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"

typedef struct fuzz_conf_s {
    int64_t num;
    bool flag;
    char *name;
    int64_t timeout_ms;
    int64_t size;
    int mode;
    char *peers; /* "host:port, host:port" */
    char *listen;
} fuzz_conf_t;

#define FUZZ_NUM_MIN -10
#define FUZZ_NUM_MAX 1000000
#define FUZZ_MS_MAX 3600000
#define FUZZ_SIZE_MAX (1LL << 30)

static const conf_item_t items[] = {
    {"server", "num", CONF_INT, offsetof(fuzz_conf_t, num), "5", FUZZ_NUM_MIN, FUZZ_NUM_MAX, NULL},
    {"server", "flag", CONF_BOOL, offsetof(fuzz_conf_t, flag), "false", 0, 0, NULL},
    {"server", "name", CONF_STR, offsetof(fuzz_conf_t, name), "herald", 0, 0, NULL},
    {"server", "mode", CONF_ENUM, offsetof(fuzz_conf_t, mode), "a", 0, 0, "a|bb|ccc"},
    {"timeouts", "ms", CONF_MS, offsetof(fuzz_conf_t, timeout_ms), "1s", 0, FUZZ_MS_MAX, NULL},
    {"buffers", "size", CONF_SIZE, offsetof(fuzz_conf_t, size), "64k", 1, FUZZ_SIZE_MAX, NULL},
    {"peers", "list", CONF_STR, offsetof(fuzz_conf_t, peers), "a:1, b:2", 0, 0, NULL},
    {"peers", "listen", CONF_STR, offsetof(fuzz_conf_t, listen), "127.0.0.1:3119", 0, 0, NULL},
    {NULL, NULL, CONF_INT, 0, NULL, 0, 0, NULL},
};

static char path[64];

static void remove_file(void)
{
    unlink(path);
}

static void check_addr(const char *s)
{
    char host[ADDR_HOST_MAX];
    int port;
    if (addr_split(s, host, &port) == 0 &&
        (port < 0 || port > 65535 || host[0] == '\0' || strlen(host) >= ADDR_HOST_MAX))
        abort();
}

static void check_loaded(const fuzz_conf_t *c)
{
    if (c->num < FUZZ_NUM_MIN || c->num > FUZZ_NUM_MAX || c->timeout_ms < 0 ||
        c->timeout_ms > FUZZ_MS_MAX || c->size < 1 || c->size > FUZZ_SIZE_MAX || c->mode < 0 ||
        c->mode > 2 || c->name == NULL || c->peers == NULL || c->listen == NULL)
        abort();
    size_t n;
    char **list = conf_list_split(c->peers, &n);
    for (size_t i = 0; i < n; i++) {
        if (list[i] == NULL || list[i][0] == '\0')
            abort();
        check_addr(list[i]);
    }
    if (list[n] != NULL)
        abort();
    conf_list_free(list);
    check_addr(c->listen);
    check_addr(c->name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (path[0] == '\0') {
        snprintf(path, sizeof(path), "/tmp/fuzz_conf.%d.ini", (int)getpid());
        atexit(remove_file);
    }
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    fuzz_conf_t c;
    memset(&c, 0, sizeof(c));
    char err[1024] = "";
    if (conf_load(items, &c, path, err, sizeof(err)) == 0)
        check_loaded(&c);
    else if (err[0] == '\0')
        abort(); /* a refusal always says why */
    conf_free(items, &c);
    return 0;
}
