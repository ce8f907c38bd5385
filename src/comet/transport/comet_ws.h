/* comet_ws.h - the WebSocket input of a connection, on top of ws.h: HTTP upgrade (path /sub,
 * anything else refused with 404), frames, fragmented messages, ping/pong and close. Output is
 * framed by comet_conn (comet_conn_append_packet, comet_conn_send_ws_control).
 *
 * No WebSocket state is kept per connection beyond comet_conn_t's pending bytes, which hold only
 * an incomplete handshake, an incomplete frame or an unfinished fragmented message, and are freed
 * as soon as it completes. Whole frames are decoded in place by the loop's ws_codec_t. Each
 * binary message carries one or more whole packets (goim v2); a text frame, a partial packet at
 * the end of a message, a message over protocol.max_body + 16 bytes or a bad frame closes the
 * connection. Loop thread only.
 */
#ifndef COMET_WS_H
#define COMET_WS_H

#include "comet_conn.h"

#include <stddef.h>
#include <stdint.h>

/* WebSocket path clients connect to. */
#define COMET_WS_PATH "/sub"

/* Consumes bytes read from a WebSocket connection (after comet_conn_on_input). data is the
 * loop's read buffer (frames are unmasked in place). Whole packets go to c's ops; may close or
 * finish c. */
void comet_ws_on_read(comet_conn_t *c, uint8_t *data, size_t len);

#endif
