/* rpc_frame.h - internal to the RPC module (rpc_server.c, rpc_client.c): the frame header codec
 * of rpc.h, a per-connection frame reader and a batching frame writer.
 * Everything here runs on the loop thread of the connection that owns it.
 */
#ifndef HERALD_RPC_FRAME_H
#define HERALD_RPC_FRAME_H

#include "list.h"
#include "rpc.h"
#include "tls_pipe.h"
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Default size of a connection's read buffer. While a bigger frame arrives the buffer grows,
 * doubling each time the bytes that did arrive fill it (never beyond that frame's size), so a
 * peer that announces 16 MiB and sends little costs little; it shrinks back once the frame has
 * been handled. */
#define RPC_FRAME_READ_BUF (64u * 1024)

/* Longest message text carried by an error frame; longer ones are truncated. */
#define RPC_FRAME_ERROR_TEXT_MAX 1024

/* One decoded frame. */
typedef struct rpc_frame_s {
    uint16_t method;
    uint16_t flags;
    uint32_t call_id;
    uint32_t len;           /* payload bytes */
    const uint8_t *payload; /* borrowed from the reader: valid only during the rpc_frame_cb */
} rpc_frame_t;

/* Writes the 12-byte header of a frame carrying `payload_len` bytes (caller keeps it bounded). */
void rpc_frame_header_write(uint8_t out[RPC_FRAME_HEADER], uint16_t method, uint16_t flags,
                            uint32_t call_id, uint32_t payload_len);

/* Parses a 12-byte header into f (f->payload is left NULL). Returns 0; HERALD_ETOOBIG when the
 * len field exceeds RPC_MAX_FRAME; HERALD_EPROTO when it is below 8 or the flags are unknown. */
int rpc_frame_header_read(const uint8_t in[RPC_FRAME_HEADER], rpc_frame_t *f);

/* Reads the payload of an RPC_FLAG_ERROR frame: returns the remote's code (always negative: a
 * missing or non-negative code becomes HERALD_EPROTO) and points *text / *text_len at the
 * message inside f->payload (not NUL-terminated). */
int rpc_frame_error_read(const rpc_frame_t *f, const char **text, size_t *text_len);

/* An encoded frame waiting to be written: link, header and payload in one allocation. Owned by
 * the writer once handed to rpc_frame_writer_send. */
typedef struct rpc_frame_out_s {
    list_link_t link; /* in its writer's pending or inflight list */
    uint32_t size;    /* header + payload bytes in data */
    uint8_t data[];
} rpc_frame_out_t;

/* Packs `msg` behind a header. Returns NULL (nothing allocated) when the frame would exceed
 * RPC_MAX_FRAME. Aborts on OOM. Free with free() unless handed to a writer. */
rpc_frame_out_t *rpc_frame_out_new(uint16_t method, uint16_t flags, uint32_t call_id,
                                   const ProtobufCMessage *msg);

/* A frame of n raw bytes, no header (the handshake's messages). Aborts on OOM. */
rpc_frame_out_t *rpc_frame_out_new_raw(const void *data, size_t n);

/* Builds an RPC_FLAG_ERROR frame: int32 big-endian `code`, then `message` (may be NULL),
 * truncated to RPC_FRAME_ERROR_TEXT_MAX bytes. Aborts on OOM. */
rpc_frame_out_t *rpc_frame_out_new_error(uint16_t method, uint32_t call_id, int code,
                                         const char *message);

/* ------------------------------------------------------------------------------------ reader */

/* Called once per complete frame, in order. Returning nonzero stops rpc_frame_reader_feed,
 * which then returns that value; the connection is then being closed and the reader must only
 * be deinit'ed. */
typedef int (*rpc_frame_cb)(void *arg, const rpc_frame_t *f);

/* Read buffer of one connection. Zero-initialised == initialised; the buffer is allocated on
 * the first rpc_frame_reader_alloc. */
typedef struct rpc_frame_reader_s {
    uint8_t *buf;
    size_t cap;
    size_t len;  /* bytes held: the start of the next, incomplete frame */
    size_t want; /* header + payload bytes of that frame once its header is in, else 0 */
} rpc_frame_reader_t;

void rpc_frame_reader_init(rpc_frame_reader_t *r);
/* Frees the buffer; the reader is initialised again afterwards. */
void rpc_frame_reader_deinit(rpc_frame_reader_t *r);

/* Body of a uv_alloc_cb: the free space behind the held bytes (never empty; the buffer grows
 * here when the held bytes fill it). Aborts on OOM. */
void rpc_frame_reader_alloc(rpc_frame_reader_t *r, uv_buf_t *out);

/* Bytes allocated for the buffer now (0 before the first alloc). */
size_t rpc_frame_reader_cap(const rpc_frame_reader_t *r);

/* Accounts `nread` bytes just read into the space given by rpc_frame_reader_alloc, then calls cb
 * for every complete frame. Returns 0; HERALD_EPROTO / HERALD_ETOOBIG on a bad header (the caller
 * closes the connection); or cb's nonzero return. */
int rpc_frame_reader_feed(rpc_frame_reader_t *r, size_t nread, rpc_frame_cb cb, void *arg);

/* ------------------------------------------------------------------------------------ writer */

typedef struct rpc_frame_writer_s rpc_frame_writer_t;

/* A write failed (status < 0, never UV_ECANCELED after rpc_frame_writer_deinit): the owner closes
 * the connection. May run inside rpc_frame_writer_send. */
typedef void (*rpc_frame_writer_error_cb)(rpc_frame_writer_t *w, int status);

/* Batching writer of one stream: while one uv_write is in flight, frames queue up and go out
 * together as one vectored write when it completes, so the frames made in one loop tick cost
 * one or two system calls. Embedded in its connection; the connection may be freed only after
 * the stream's close callback (libuv runs write callbacks before it). */
struct rpc_frame_writer_s {
    uv_stream_t *stream;
    rpc_frame_writer_error_cb on_error;
    uv_write_t req;
    list_link_t pending; /* rpc_frame_out_t queued, not yet handed to libuv, oldest first */
    size_t npending;
    list_link_t inflight; /* rpc_frame_out_t of the uv_write in flight, freed in its callback */
    uv_buf_t *bufs;       /* scratch vector for uv_write, reused */
    size_t bufs_cap;
    tls_pipe_t *tls; /* borrowed, NULL: frames go out in clear */
    int writing;
    int closed;
};

void rpc_frame_writer_init(rpc_frame_writer_t *w, uv_stream_t *stream,
                           rpc_frame_writer_error_cb on_error);

/* Queues `f` (ownership taken) and starts a write if none is in flight. After deinit, or when
 * the write cannot be started, the frame is just freed (and on_error reports the latter). */
void rpc_frame_writer_send(rpc_frame_writer_t *w, rpc_frame_out_t *f);

/* From now on frames go through tls (borrowed; it must outlive the writer's use): they are
 * encrypted when a write starts, and only once tls's handshake is over (until then they wait),
 * and the handshake's own messages are sent as they come (rpc_frame_writer_flush). */
void rpc_frame_writer_set_tls(rpc_frame_writer_t *w, tls_pipe_t *tls);

/* Starts a write of whatever waits (queued frames; with TLS, OpenSSL's output) unless one is in
 * flight, whose completion will. A no-op after deinit. */
void rpc_frame_writer_flush(rpc_frame_writer_t *w);

/* Drops queued frames; a write in flight is freed by its (cancelled) callback. Call when the
 * stream is being closed. Safe on a zeroed or already deinit'ed writer. */
void rpc_frame_writer_deinit(rpc_frame_writer_t *w);

#endif
