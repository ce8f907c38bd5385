/* bench_mqtt.c - see bench_mqtt.h. */
#include "bench_mqtt.h"

#include <string.h>

/* Fixed header with the remaining-length varint; returns its size or 0 if cap is too small. */
static size_t fixed_header(uint8_t *out, size_t cap, uint8_t first, size_t remaining)
{
    uint8_t tmp[5];
    size_t n = 0;
    tmp[n++] = first;
    do {
        uint8_t b = remaining % 128;
        remaining /= 128;
        tmp[n++] = remaining ? (uint8_t)(b | 0x80) : b;
    } while (remaining && n < 5);
    if (n > cap)
        return 0;
    memcpy(out, tmp, n);
    return n;
}

static uint8_t *put_str(uint8_t *p, const char *s, size_t len)
{
    *p++ = (uint8_t)(len >> 8);
    *p++ = (uint8_t)len;
    memcpy(p, s, len);
    return p + len;
}

size_t bench_mqtt_connect(uint8_t *out, size_t cap, const char *client_id, uint16_t keepalive_s)
{
    size_t id_len = strlen(client_id);
    size_t remaining = 10 + 2 + id_len;
    size_t h = fixed_header(out, cap, 0x10, remaining);
    if (h == 0 || h + remaining > cap)
        return 0;
    uint8_t *p = put_str(out + h, "MQTT", 4);
    *p++ = 4;    /* protocol level 3.1.1 */
    *p++ = 0x02; /* clean session */
    *p++ = (uint8_t)(keepalive_s >> 8);
    *p++ = (uint8_t)keepalive_s;
    p = put_str(p, client_id, id_len);
    return (size_t)(p - out);
}

size_t bench_mqtt_subscribe(uint8_t *out, size_t cap, uint16_t packet_id, const char *topic)
{
    size_t t_len = strlen(topic);
    size_t remaining = 2 + 2 + t_len + 1;
    size_t h = fixed_header(out, cap, 0x82, remaining);
    if (h == 0 || h + remaining > cap)
        return 0;
    uint8_t *p = out + h;
    *p++ = (uint8_t)(packet_id >> 8);
    *p++ = (uint8_t)packet_id;
    p = put_str(p, topic, t_len);
    *p++ = 0; /* QoS 0 */
    return (size_t)(p - out);
}

size_t bench_mqtt_publish(uint8_t *out, size_t cap, const char *topic, const uint8_t *payload,
                          size_t len)
{
    size_t t_len = strlen(topic);
    size_t remaining = 2 + t_len + len;
    size_t h = fixed_header(out, cap, 0x30, remaining);
    if (h == 0 || h + remaining > cap)
        return 0;
    uint8_t *p = put_str(out + h, topic, t_len);
    memcpy(p, payload, len);
    return h + remaining;
}

size_t bench_mqtt_pingreq(uint8_t *out, size_t cap)
{
    if (cap < 2)
        return 0;
    out[0] = 0xC0;
    out[1] = 0;
    return 2;
}

int bench_mqtt_peek(const uint8_t *buf, size_t len, int *type, size_t *body_off, size_t *total)
{
    if (len < 2)
        return 1;
    size_t remaining = 0, mult = 1, i = 1;
    for (;;) {
        if (i >= len)
            return 1;
        if (i > 4)
            return -1;
        uint8_t b = buf[i++];
        remaining += (size_t)(b & 0x7f) * mult;
        mult *= 128;
        if (!(b & 0x80))
            break;
    }
    if (remaining + i > BENCH_MQTT_MAX_PACKET)
        return -1;
    if (len < i + remaining)
        return 1;
    *type = buf[0] >> 4;
    *body_off = i;
    *total = i + remaining;
    return 0;
}

int bench_mqtt_publish_payload(const uint8_t *body, size_t len, int qos, size_t *payload_off)
{
    if (len < 2)
        return -1;
    size_t off = 2 + ((size_t)body[0] << 8 | body[1]);
    if (qos > 0)
        off += 2; /* packet identifier */
    if (off > len)
        return -1;
    *payload_off = off;
    return 0;
}
