/* http_query.c - see http_query.h. */
#include "http_query.h"

#include <string.h>

size_t http_query_count(const char *query, size_t len)
{
    size_t n = 1;

    for (size_t i = 0; i < len; i++)
        n += query[i] == '&';
    return n;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes in[0..len) into out, NUL-terminated; a '%' not followed by two hex digits stays as
 * it is (libmicrohttpd's rule). Returns the bytes written, NUL excluded, or -1 on a decoded
 * NUL. */
static long decode(const char *in, size_t len, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        int hi, lo;
        if (c == '+') {
            c = ' ';
        } else if (c == '%' && i + 2 < len && (hi = hex_value(in[i + 1])) >= 0 &&
                   (lo = hex_value(in[i + 2])) >= 0) {
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (c == '\0')
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return (long)o;
}

long http_query_parse(const char *query, size_t len, http_kv_t *out, char *str)
{
    size_t n = 0, pos = 0;

    while (pos < len) {
        const char *part = query + pos;
        const char *amp = memchr(part, '&', len - pos);
        size_t plen = amp ? (size_t)(amp - part) : len - pos;
        pos += plen + 1;
        if (plen == 0)
            continue;
        const char *eq = memchr(part, '=', plen);
        size_t nlen = eq ? (size_t)(eq - part) : plen;
        long w = decode(part, nlen, str);
        if (w < 0)
            return -1;
        out[n].name = str;
        str += w + 1;
        w = eq ? decode(eq + 1, plen - nlen - 1, str) : (*str = '\0', 0);
        if (w < 0)
            return -1;
        out[n].value = str;
        str += w + 1;
        n++;
    }
    return (long)n;
}
