/* bench_mqtt.h - the few MQTT 3.1.1 packets herald-bench speaks (QoS 0 only). */
#ifndef HERALD_BENCH_MQTT_H
#define HERALD_BENCH_MQTT_H

#include <stddef.h>
#include <stdint.h>

enum {
    BENCH_MQTT_CONNACK = 2,
    BENCH_MQTT_PUBLISH = 3,
    BENCH_MQTT_SUBACK = 9,
    BENCH_MQTT_PINGRESP = 13,
};

/* Largest packet a subscriber accepts. */
#define BENCH_MQTT_MAX_PACKET 65536

/* Each encoder writes into out (cap bytes) and returns the length, or 0 when cap is too small. */
size_t bench_mqtt_connect(uint8_t *out, size_t cap, const char *client_id, uint16_t keepalive_s);
size_t bench_mqtt_subscribe(uint8_t *out, size_t cap, uint16_t packet_id, const char *topic);
size_t bench_mqtt_publish(uint8_t *out, size_t cap, const char *topic, const uint8_t *payload,
                          size_t len);
size_t bench_mqtt_pingreq(uint8_t *out, size_t cap);

/* Looks at the packet at buf (len bytes): returns 0 with *type, *body (variable header and
 * payload) and *total (whole packet) when it is complete, 1 when more bytes are needed, -1 when
 * the length is malformed or over BENCH_MQTT_MAX_PACKET. */
int bench_mqtt_peek(const uint8_t *buf, size_t len, int *type, size_t *body_off, size_t *total);

/* Payload of a QoS 0 PUBLISH whose variable header + payload is body[0..len). -1 if malformed. */
int bench_mqtt_publish_payload(const uint8_t *body, size_t len, int qos, size_t *payload_off);

#endif
