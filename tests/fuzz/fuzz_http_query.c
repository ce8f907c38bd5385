/* libFuzzer target: the HTTP query parser (http_query.c) on any bytes. What it returns must fit
 * the bounds it promises: at most http_query_count() parameters, every string NUL-terminated
 * inside the buffer of len + 2 * count bytes, no NUL inside a decoded string. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *q = (const char *)data;
    size_t count = http_query_count(q, size);
    http_kv_t *kv = malloc(count * sizeof(*kv));
    size_t cap = size + 2 * count;
    char *str = malloc(cap);
    long n = http_query_parse(q, size, kv, str);

    if (n > (long)count)
        abort();
    for (long i = 0; i < n; i++) {
        const char *s[2] = {kv[i].name, kv[i].value};
        for (int k = 0; k < 2; k++) {
            if (s[k] < str || s[k] >= str + cap)
                abort();
            if (memchr(s[k], '\0', (size_t)(str + cap - s[k])) == NULL)
                abort();
        }
    }
    free(str);
    free(kv);
    return 0;
}
