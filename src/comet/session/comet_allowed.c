/* comet_allowed.c - see comet_allowed.h. */
#include "comet_allowed.h"

#include "buf.h"
#include "proto.h"

#include <string.h>

char *comet_allowed_new(char *const *ids, size_t n)
{
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += ids[i] ? strlen(ids[i]) + 1 : 0;
    char *list = xmalloc(total), *p = list;
    for (size_t i = 0; i < n; i++) {
        size_t len = ids[i] ? strlen(ids[i]) : 0;
        if (len == 0 || !proto_room_id_valid(ids[i], len))
            continue;
        memcpy(p, ids[i], len + 1);
        p += len + 1;
    }
    *p = '\0';
    return list;
}

int comet_allowed_has(const char *allowed, const char *id, size_t len)
{
    if (allowed == NULL)
        return 1;
    for (const char *p = allowed; *p != '\0'; p += strlen(p) + 1)
        if (strlen(p) == len && memcmp(p, id, len) == 0)
            return 1;
    return 0;
}
