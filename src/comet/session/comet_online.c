/* comet_online.c - see comet_online.h. */
#include "comet_online.h"

#include "buf.h"
#include "strmap.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct online_entry_s {
    int32_t count;
    char id[];
} online_entry_t;

struct comet_online_s {
    atomic_int refs;
    strmap_t map; /* id -> online_entry_t, owned */
};

static const char *online_key(const void *item)
{
    return ((const online_entry_t *)item)->id;
}

comet_online_t *comet_online_new(Herald__RoomCount *const *rooms, size_t n)
{
    comet_online_t *o = xmalloc(sizeof *o);
    atomic_init(&o->refs, 1);
    strmap_init(&o->map, online_key);
    for (size_t i = 0; i < n; i++) {
        const char *id = rooms[i]->room_id;
        if (id == NULL || id[0] == '\0')
            continue;
        size_t len = strlen(id);
        online_entry_t *e = xmalloc(sizeof *e + len + 1);
        e->count = rooms[i]->count;
        memcpy(e->id, id, len + 1);
        free(strmap_put(&o->map, e));
    }
    return o;
}

comet_online_t *comet_online_ref(comet_online_t *o)
{
    atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
    return o;
}

void comet_online_unref(comet_online_t *o)
{
    if (o == NULL || atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) != 1)
        return;
    uint32_t pos = 0;
    online_entry_t *e;
    while ((e = strmap_next(&o->map, &pos)) != NULL)
        free(e);
    strmap_deinit(&o->map);
    free(o);
}

int32_t comet_online_get(const comet_online_t *o, const char *id, size_t len)
{
    if (o == NULL)
        return 0;
    const online_entry_t *e = strmap_get(&o->map, id, len);
    return e ? e->count : 0;
}
