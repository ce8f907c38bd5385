/* test_pki.c - a throwaway CA and certificates made with the openssl command (see test_pki.h). */
#include "test_pki.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static char pki_dir[64];

/* Runs a shell command in pki_dir; fails the test with its output when it fails. */
static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run(const char *fmt, ...)
{
    char cmd[2048];
    int n = snprintf(cmd, sizeof(cmd), "cd '%s' && (", pki_dir);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
    va_end(ap);
    snprintf(cmd + n, sizeof(cmd) - (size_t)n, ") >>pki.log 2>&1");
    if (system(cmd) != 0) {
        char log[4096] = "";
        char path[128];
        snprintf(path, sizeof(path), "%s/pki.log", pki_dir);
        FILE *f = fopen(path, "r");
        size_t got = f ? fread(log, 1, sizeof(log) - 1, f) : 0;
        log[got] = '\0';
        if (f)
            fclose(f);
        fail_msg("test_pki: `%s` failed: %s", cmd, log);
    }
}

static void make_ca(const char *name, const char *cn)
{
    run("openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
        "-subj '/CN=%s' -keyout %s.key -out %s.pem "
        "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign",
        cn, name, name);
}

/* A leaf signed by the CA `ca` (ca.pem, ca.key): name.pem and name.key, with subjectAltName san
 * and extendedKeyUsage eku. */
static void make_leaf_by(const char *ca, const char *name, const char *cn, const char *san,
                         const char *eku)
{
    run("printf 'subjectAltName=%s\\nextendedKeyUsage=%s\\nbasicConstraints=CA:FALSE\\n' > %s.ext"
        " && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj '/CN=%s' "
        "-keyout %s.key -out %s.csr && openssl x509 -req -in %s.csr -CA %s.pem -CAkey %s.key "
        "-CAcreateserial -days 2 -extfile %s.ext -out %s.pem",
        san, eku, name, cn, name, name, name, ca, ca, name, name);
}

static void make_leaf(const char *name, const char *cn, const char *san, const char *eku)
{
    make_leaf_by("ca", name, cn, san, eku);
}

const char *test_pki_dir(void)
{
    if (pki_dir[0] != '\0')
        return pki_dir;
    snprintf(pki_dir, sizeof(pki_dir), "/tmp/herald-pki-XXXXXX");
    if (mkdtemp(pki_dir) == NULL)
        fail_msg("test_pki: mkdtemp failed");
    make_ca("ca", "herald test CA");
    make_ca("other-ca", "another test CA");
    make_leaf("server", "localhost", "DNS:localhost,IP:127.0.0.1", "serverAuth");
    make_leaf("alt", "alt.test", "DNS:alt.test", "serverAuth");
    make_leaf("wrong", "wrong.test", "DNS:wrong.test", "serverAuth");
    make_leaf("client", "herald-client", "DNS:herald-client", "clientAuth");
    make_leaf("peer", "herald-rpc", "DNS:herald-rpc,DNS:localhost,IP:127.0.0.1",
              "serverAuth,clientAuth");
    make_leaf_by("other-ca", "other-peer", "herald-rpc",
                 "DNS:herald-rpc,DNS:localhost,IP:127.0.0.1", "serverAuth,clientAuth");
    run("cat server.pem ca.pem > server.chain.pem && chmod 600 *.key");
    return pki_dir;
}

char *test_pki_path(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", test_pki_dir(), name);
    return out;
}

void test_pki_cleanup(void)
{
    char cmd[128];
    if (pki_dir[0] == '\0')
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pki_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "test_pki: could not remove %s\n", pki_dir);
    pki_dir[0] = '\0';
}
