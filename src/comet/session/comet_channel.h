/* comet_channel.h - what a connection does with the packets it receives (DESIGN.md §3) and its
 * place in the worker's tables once authenticated: key tables, room, broadcast list.
 *
 * Worker thread only.
 */
#ifndef COMET_CHANNEL_H
#define COMET_CHANNEL_H

#include "comet_conn.h"
#include "proto.h"

#include <stddef.h>

/* proto_packet_cb for a connection's reader (arg = comet_conn_t): before auth only OpAuth is
 * allowed; while Connect is in flight packets are deferred; afterwards heartbeat (2), send (4),
 * change room (12), sub/unsub (14/16) and ack (18) are handled and other ops are ignored.
 * Returns nonzero when the connection is closing, to stop the reader. */
int comet_channel_on_packet(void *arg, const proto_header_t *h, const uint8_t *body);

/* Enters an authenticated connection (key, mid set) into the key tables and the broadcast list,
 * kicking any older connection with the same key on this comet. */
void comet_channel_register(comet_conn_t *c);

/* Leaves every table (room included) and tells logic (Disconnect) unless the worker is
 * draining or c was replaced by a newer connection with its key. Called by comet_conn when it
 * closes or finishes a registered connection. */
void comet_channel_unregister(comet_conn_t *c);

/* Moves c to room id (len bytes, a valid room id) or out of any room when len is 0. */
void comet_channel_set_room(comet_conn_t *c, const char *id, size_t len);

#endif
