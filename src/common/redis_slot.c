/* redis_slot.c - see redis_slot.h. */
#include "redis_slot.h"

#include <string.h>

/* CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, no reflection. */
static unsigned crc16(const char *p, size_t len)
{
    unsigned crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (unsigned)(unsigned char)p[i] << 8;
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
    return crc;
}

unsigned redis_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open != NULL) {
        size_t from = (size_t)(open - key) + 1;
        const char *close = memchr(key + from, '}', len - from);
        if (close != NULL && close > key + from)
            return crc16(key + from, (size_t)(close - (key + from))) % REDIS_SLOTS;
    }
    return crc16(key, len) % REDIS_SLOTS;
}
