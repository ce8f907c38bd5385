/* addr.c - see addr.h. */
#include "addr.h"

#include "herald_err.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

int addr_split(const char *s, char host[ADDR_HOST_MAX], int *port)
{
    const char *h = s, *hend, *p;
    if (s == NULL)
        return HERALD_EINVAL;
    if (s[0] == '[') {
        h = s + 1;
        hend = strchr(h, ']');
        if (hend == NULL || hend[1] != ':')
            return HERALD_EINVAL;
        p = hend + 2;
    } else {
        hend = strrchr(s, ':');
        /* An unbracketed IPv6 address is ambiguous ("::1:3101"): refuse it. */
        if (hend == NULL || memchr(s, ':', (size_t)(hend - s)) != NULL)
            return HERALD_EINVAL;
        p = hend + 1;
    }
    size_t hlen = (size_t)(hend - h);
    if (hlen == 0 || hlen >= ADDR_HOST_MAX)
        return HERALD_EINVAL;
    size_t digits = strspn(p, "0123456789");
    if (digits == 0 || digits > 5 || p[digits] != '\0')
        return HERALD_EINVAL;
    long v = strtol(p, NULL, 10);
    if (v > 65535)
        return HERALD_EINVAL;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)v;
    return 0;
}

int addr_port_of(const char *s)
{
    char host[ADDR_HOST_MAX];
    int port;
    return addr_split(s, host, &port) == 0 ? port : -1;
}

int addr_numeric(const char *host, int port, struct sockaddr_storage *out)
{
    memset(out, 0, sizeof(*out));
    if (port < 0 || port > 65535)
        return UV_EINVAL;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)out) == 0)
        return 0;
    memset(out, 0, sizeof(*out));
    if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)out) == 0)
        return 0;
    return UV_EINVAL;
}

int addr_resolve(const char *s, struct sockaddr_storage *out)
{
    char host[ADDR_HOST_MAX];
    int port;
    if (addr_split(s, host, &port) != 0)
        return HERALD_EINVAL;
    if (addr_numeric(host, port, out) == 0)
        return 0;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = UV_EAI_NONAME;
    if (getaddrinfo(host, NULL, &hints, &res) == 0 && res != NULL &&
        res->ai_addrlen <= sizeof(*out)) {
        memset(out, 0, sizeof(*out));
        memcpy(out, res->ai_addr, res->ai_addrlen);
        addr_set_port(out, port);
        rc = 0;
    }
    if (res != NULL)
        freeaddrinfo(res);
    return rc;
}

int addr_get_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return ntohs(((const struct sockaddr_in *)sa)->sin_port);
}

void addr_set_port(struct sockaddr_storage *ss, int port)
{
    if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
}

socklen_t addr_len(const struct sockaddr *sa)
{
    return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

int addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        uint32_t a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
        return (a >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return 1;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return 0;
}

char *addr_format(const struct sockaddr *sa, char *out, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof(ip));
        snprintf(out, len, "[%s]:%d", ip, addr_get_port(sa));
    } else {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof(ip));
        snprintf(out, len, "%s:%d", ip, addr_get_port(sa));
    }
    return out;
}
