/* redis_slot.h - the Redis Cluster hash slot of a key: CRC16 (XMODEM, as Redis's crc16.c) of the
 * key's hash tag, or of the whole key when it has none, modulo REDIS_SLOTS.
 *
 * The hash tag is the part between the first '{' and the next '}' when that part is not empty
 * ("{user1000}.following" and "{user1000}.followers" share a slot). Pure, any thread.
 */
#ifndef HERALD_REDIS_SLOT_H
#define HERALD_REDIS_SLOT_H

#include <stddef.h>

#define REDIS_SLOTS 16384

unsigned redis_slot(const char *key, size_t len);

#endif
