/* logic_rooms.c - see logic_rooms.h. */
#include "logic_rooms.h"

#include "buf.h"
#include "herald_err.h"
#include "proto.h"

#include <stdlib.h>
#include <string.h>

int logic_rooms_add(logic_rooms_t *r, const char *id, size_t len)
{
    if (!proto_room_id_valid(id, len)) /* no control byte, NUL included */
        return HERALD_EINVAL;
    for (size_t i = 0; i < r->n; i++)
        if (strlen(r->ids[i]) == len && memcmp(r->ids[i], id, len) == 0)
            return 0;
    if (r->n >= LOGIC_ROOMS_MAX)
        return HERALD_EINVAL;
    if (r->ids == NULL)
        r->ids = xcalloc(LOGIC_ROOMS_MAX, sizeof(*r->ids));
    r->ids[r->n++] = xstrndup(id, len);
    return 0;
}

int logic_rooms_has(const logic_rooms_t *r, const char *id)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->ids[i], id) == 0)
            return 1;
    return 0;
}

void logic_rooms_move(logic_rooms_t *dst, logic_rooms_t *src)
{
    logic_rooms_deinit(dst);
    *dst = *src;
    memset(src, 0, sizeof(*src));
}

void logic_rooms_deinit(logic_rooms_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->ids[i]);
    free(r->ids);
    memset(r, 0, sizeof(*r));
}
