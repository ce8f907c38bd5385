/* addr.h - network addresses as herald writes them: "host:port", "[v6]:port"; the one parser of
 * them (config, command line, registry entries) and the sockaddr helpers every listener and
 * client uses.
 *
 * Rules: the port is 0..65535 in decimal with nothing after it; an IPv6 host is bracketed (an
 * unbracketed one is ambiguous and refused); the host is not empty. Host names are allowed here;
 * whether a name is acceptable (a listener needs a numeric address) is the caller's rule.
 */
#ifndef HERALD_ADDR_H
#define HERALD_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

#define ADDR_HOST_MAX 256 /* bytes of a host, NUL included */

/* Splits s into host (brackets removed, NUL-terminated, at most ADDR_HOST_MAX bytes with the NUL)
 * and port. Returns 0, or HERALD_EINVAL (then host and port are unspecified). */
int addr_split(const char *s, char host[ADDR_HOST_MAX], int *port);

/* The port of "host:port", or -1 when s is not a valid address. */
int addr_port_of(const char *s);

/* host (numeric IPv4 or IPv6, no brackets) and port into *out. Returns 0 or UV_EINVAL. */
int addr_numeric(const char *host, int port, struct sockaddr_storage *out);

/* "host:port" into *out: numeric hosts directly, names through getaddrinfo (blocking: at start,
 * never on a running loop). Returns 0, HERALD_EINVAL (not an address) or UV_EAI_NONAME. */
int addr_resolve(const char *s, struct sockaddr_storage *out);

/* Port of / sets the port of an AF_INET or AF_INET6 address. */
int addr_get_port(const struct sockaddr *sa);
void addr_set_port(struct sockaddr_storage *ss, int port);

/* Length of the sockaddr for its family (sizeof sockaddr_in or sockaddr_in6). */
socklen_t addr_len(const struct sockaddr *sa);

/* 1 when sa is a loopback address (127.0.0.0/8, ::1, or ::ffff:127.x.x.x), else 0. */
int addr_is_loopback(const struct sockaddr *sa);

/* "host:port" ("[v6]:port") of sa into out (at least 64 bytes). Returns out. */
char *addr_format(const struct sockaddr *sa, char *out, size_t len);

#endif
