/* libFuzzer target: a comet registry entry as logic and job read it back from Redis
 * (registry_entry_decode, src/common/registry.h). Whatever decodes must be a valid entry: with an
 * id it encodes (never a NULL string), and the encoding decodes to the same entry. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so ASan sees any read past the text (the decoder gets no NUL). */
    char *text = malloc(size ? size : 1);
    memcpy(text, data, size);
    registry_entry_t e, back;
    if (registry_entry_decode(text, size, &e) == 0) {
        if (e.id[0] != '\0')
            abort(); /* the hash field is the id, never the JSON */
        strcpy(e.id, "comet-1");
        char *json;
        if (registry_entry_encode(&e, &json) != 0 || json == NULL)
            abort();
        if (registry_entry_decode(json, strlen(json), &back) != 0)
            abort();
        strcpy(back.id, e.id);
        if (e.weight != back.weight || e.conns != back.conns || e.updated_ms != back.updated_ms ||
            strcmp(e.rpc, back.rpc) != 0 || strcmp(e.tcp, back.tcp) != 0 ||
            strcmp(e.ws, back.ws) != 0 || strcmp(e.tls, back.tls) != 0 ||
            strcmp(e.wss, back.wss) != 0)
            abort();
        free(json);
    }
    free(text);
    return 0;
}
