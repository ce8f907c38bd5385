/* comet_ws.h - the WebSocket transport of a connection, on top of ws.h: HTTP upgrade (path /sub,
 * anything else refused with 404), frames, fragmented messages, ping/pong and close.
 *
 * No WebSocket state is kept per connection beyond comet_conn_t's pending bytes, which hold only
 * an incomplete handshake, an incomplete frame or an unfinished fragmented message, and are freed
 * as soon as it completes. Whole frames are decoded in place by the worker's ws_codec_t. Each
 * binary message carries one or more whole packets (goim v2); a text frame, a partial packet at
 * the end of a message, a message over protocol.max_body + 16 bytes or a bad frame closes the
 * connection. Worker thread only.
 */
#ifndef COMET_WS_H
#define COMET_WS_H

#include "comet_conn.h"

#include <stddef.h>
#include <stdint.h>

/* WebSocket path clients connect to. */
#define COMET_WS_PATH "/sub"

/* Consumes bytes read from a WebSocket connection. data is the worker's read buffer (frames are
 * unmasked in place). May close or finish c. */
void comet_ws_on_read(comet_conn_t *c, uint8_t *data, size_t len);

/* Sends a close frame with status code (once per connection). */
void comet_ws_send_close(comet_conn_t *c, uint16_t code);

#endif
