/* test_pki.h - a throwaway PKI for TLS tests, made at run time with the openssl command (nothing
 * is checked in that could expire): a CA and certificates it signs, valid for two days.
 *
 *   <dir>/ca.pem, ca.key            the test CA (trust it with --ca / --cacert)
 *   <dir>/server.pem, server.key    CN localhost; SAN DNS:localhost, IP:127.0.0.1 (serverAuth)
 *   <dir>/alt.pem, alt.key          CN alt.test; SAN DNS:alt.test (a second name, for SNI)
 *   <dir>/wrong.pem, wrong.key      CN wrong.test; SAN DNS:wrong.test only: a client that checks
 *                                   the host name "localhost" or 127.0.0.1 must refuse it
 *   <dir>/client.pem, client.key    CN herald-client (clientAuth), for mutual TLS
 *   <dir>/peer.pem, peer.key        CN herald-rpc; SAN DNS:herald-rpc, DNS:localhost,
 *                                   IP:127.0.0.1 (serverAuth and clientAuth): a daemon's
 *                                   certificate for mutual TLS on the internal RPC
 *   <dir>/other-ca.pem, other-ca.key  a second CA (a wrong trust anchor), which signed only:
 *   <dir>/other-peer.pem, .key      as peer, but signed by other-ca: a stranger's certificate
 *
 * Keys are EC P-256 (fast to make). Every .pem holds one certificate; server.chain.pem holds
 * server.pem then ca.pem (a chain file as operators write them). */
#ifndef HERALD_TEST_PKI_H
#define HERALD_TEST_PKI_H

#include <stddef.h>

/* Makes the PKI in a fresh temporary directory, once per process (later calls return the same
 * directory). Returns the directory; asserts (cmocka) when openssl fails. */
const char *test_pki_dir(void);

/* Writes "<test_pki_dir()>/<name>" into out (len bytes) and returns out. */
char *test_pki_path(char *out, size_t len, const char *name);

/* Removes the directory made by test_pki_dir (a no-op when none was made). */
void test_pki_cleanup(void);

#endif
