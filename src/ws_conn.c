/* ws_conn: WebSocket framing on an upgraded stream (wslay), see ws_conn.h. */
#include "ws_conn.h"

#include <errno.h>
#include <event2/buffer.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#include "http.h"
#include "sse_fanout.h"
#include "validate.h"

#define READ_BUDGET 65536 /* bytes read per readable event; the loop serves others between */
#define CLOSE_VANISHED 1006 /* no close frame: the client went away */
#define CLOSE_REASON_MAX 123 /* bytes of a close frame's reason (RFC 6455 5.5) */

/* wslay's reader and where the client's input stands in it, to know when
 * it holds none of it; only while a frame is in reach. */
struct ws_reader {
    wslay_event_context_ptr ctx;
    unsigned long long given;    /* bytes handed to wslay */
    unsigned long long consumed; /* bytes of the frames wslay started */
    size_t read_budget;          /* bytes left to read in this readable event */
    bool in_frame;               /* a frame started and has not ended */
    bool in_message;             /* a fragmented message waits for its last frame */
    bool peer_gone;              /* recv() met the end of input or an error */
};

/* What an idle connection keeps: small, as there may be many (the reader
 * and the bytes on their way out are elsewhere). */
struct ws_conn {
    struct request *r;        /* the upgraded stream */
    struct fanout *fanout;    /* the server's: its batch goes out before our bytes */
    struct ws_framer *framer; /* the server's: frames what chatd sends */
    struct ws_reader *reader; /* NULL between frames */
    const struct ws_conn_handlers *h;
    void *arg;
    uint16_t close_code;      /* sent or received */
    uint8_t pings;            /* pings received in this ping period */
    uint8_t unanswered;       /* pings in a row after which nothing came in */
    bool notify_drained : 1;  /* later sends run h->on_drained once out */
    bool heard : 1;           /* a frame came in since the last ping */
    bool in_recv : 1;         /* inside wslay_event_recv: ending waits */
    bool over : 1;            /* the close frame is out: end after the callback */
};

/* The server's encoder, and the one buffer every connection's framed bytes
 * pass through on their way to its socket queue (empty between calls). */
struct ws_framer {
    wslay_frame_context_ptr ctx;
    struct evbuffer *out;     /* where the frame being made goes */
    struct evbuffer *passing; /* a connection's bytes being handed to its stream */
};

static void free_reader(struct ws_conn *c) {
    if (!c->reader) return;
    wslay_event_context_free(c->reader->ctx);
    free(c->reader);
    c->reader = NULL;
}

static void finish(struct ws_conn *c) {
    struct request *r = c->r;
    int code = c->close_code ? c->close_code : CLOSE_VANISHED;
    http_stream_set_reader(r, NULL, NULL);
    r->on_close = NULL;
    free_reader(c);
    void (*on_end)(void *, int) = c->h->on_end;
    void *arg = c->arg;
    free(c);
    http_stream_end(r); /* what is queued goes out, then the socket closes */
    on_end(arg, code);
}

/* A connection whose close frame is out is over. True when it ended (c is
 * gone). */
static bool end_if_over(struct ws_conn *c) {
    if (!c->over && !(c->reader && wslay_event_get_close_sent(c->reader->ctx))) return false;
    c->over = true;
    if (c->in_recv) return false;
    finish(c);
    return true;
}

/* What wslay queued (pongs, its close frames) goes out. */
static bool flush(struct ws_conn *c) {
    if (c->reader && wslay_event_send(c->reader->ctx) < 0) c->over = true;
    return end_if_over(c);
}

static void on_stream_drained(struct evhttp_connection *evcon, void *arg) {
    (void)evcon;
    struct ws_conn *c = arg;
    if (c->notify_drained) c->h->on_drained(c->arg);
}

/* Queues what the framer's passing buffer holds (emptied) on the stream,
 * behind the fan-out batch, which the caller flushed before filling it. */
static void write_out(struct ws_conn *c) {
    http_stream_send(c->r, c->framer->passing, c->notify_drained ? on_stream_drained : NULL, c);
}

/* ---- wslay's callbacks ---- */

static ssize_t on_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                       void *arg) {
    (void)flags;
    struct ws_conn *c = arg;
    struct ws_reader *rd = c->reader;
    if (rd->read_budget == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (len > rd->read_budget) len = rd->read_budget;
    ssize_t n = http_stream_recv(c->r, buf, len);
    if (n > 0) {
        rd->read_budget -= (size_t)n;
        rd->given += (size_t)n;
        return n;
    }
    bool later = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
    rd->peer_gone = !later;
    wslay_event_set_error(ctx, later ? WSLAY_ERR_WOULDBLOCK : WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

/* Every byte wslay frames goes to the socket's queue at once: wslay never
 * holds half a frame. */
static ssize_t on_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *arg) {
    (void)flags;
    struct ws_conn *c = arg;
    fanout_flush(c->fanout);
    if (evbuffer_add(c->framer->passing, data, len) < 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    write_out(c);
    return (ssize_t)len;
}

/* A frame's bytes on the wire: the head (2 bytes, the extended length, the
 * mask) and the payload. A head longer than this (a length not in its
 * shortest form) only makes the connection look busy: wslay is kept. */
static void on_frame_start(wslay_event_context_ptr ctx,
                           const struct wslay_event_on_frame_recv_start_arg *f, void *arg) {
    (void)ctx;
    struct ws_reader *rd = ((struct ws_conn *)arg)->reader;
    unsigned long long head = 2 + 4;
    if (f->payload_length >= 65536) head += 8;
    else if (f->payload_length >= 126) head += 2;
    rd->consumed += head + f->payload_length;
    rd->in_frame = true;
    if (f->opcode == WSLAY_TEXT_FRAME || f->opcode == WSLAY_BINARY_FRAME) rd->in_message = !f->fin;
    else if (f->opcode == WSLAY_CONTINUATION_FRAME && f->fin) rd->in_message = false;
}

static void on_frame_end(wslay_event_context_ptr ctx, void *arg) {
    (void)ctx;
    struct ws_conn *c = arg;
    c->reader->in_frame = false;
}

static void close_with(struct ws_conn *c, int code, const char *reason);

static void on_text(struct ws_conn *c, const struct wslay_event_on_msg_recv_arg *m) {
    size_t chars;
    if (!utf8_valid((const char *)m->msg, m->msg_length, &chars)) {
        close_with(c, WS_CLOSE_BAD_DATA, "text is not UTF-8");
        return;
    }
    c->h->on_text(c->arg, (const char *)m->msg, m->msg_length);
}

static void on_message(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *m,
                       void *arg) {
    struct ws_conn *c = arg;
    c->heard = true;
    if (c->over || wslay_event_get_close_sent(ctx)) return;
    switch (m->opcode) {
    case WSLAY_TEXT_FRAME: on_text(c, m); break;
    case WSLAY_BINARY_FRAME: close_with(c, WS_CLOSE_UNSUPPORTED, "binary messages"); break;
    case WSLAY_PING:
        if (c->pings <= WS_CONN_PINGS_MAX) c->pings++; /* stops one past the limit */
        if (c->pings > WS_CONN_PINGS_MAX) close_with(c, WS_CLOSE_POLICY, "ping flood");
        break;
    case WSLAY_CONNECTION_CLOSE: /* wslay answers it */
        if (!c->close_code) c->close_code = m->status_code ? m->status_code : 1005;
        break;
    default: break; /* pong */
    }
}

/* ---- the reader, there only while a frame is in reach ---- */

static int open_reader(struct ws_conn *c) {
    static const struct wslay_event_callbacks callbacks = {
        .recv_callback = on_recv, .send_callback = on_send,
        .on_frame_recv_start_callback = on_frame_start,
        .on_frame_recv_end_callback = on_frame_end, .on_msg_recv_callback = on_message};
    if (c->reader) return 0;
    struct ws_reader *rd = calloc(1, sizeof(*rd));
    if (!rd || wslay_event_context_server_init(&rd->ctx, &callbacks, c) != 0) {
        free(rd);
        return -1;
    }
    wslay_event_config_set_max_recv_msg_length(rd->ctx, WS_CONN_MESSAGE_MAX);
    c->reader = rd;
    return 0;
}

/* Between two frames, with every byte read taken and nothing queued,
 * wslay holds nothing worth its 8.8 KB: an idle connection lets go of it. */
static void close_reader_if_idle(struct ws_conn *c) {
    struct ws_reader *rd = c->reader;
    if (!rd || rd->in_frame || rd->in_message || rd->consumed != rd->given ||
        wslay_event_want_write(rd->ctx))
        return;
    free_reader(c);
}

/* The socket has bytes: frames in, whatever they caused out. */
static int on_readable(void *arg) {
    struct ws_conn *c = arg;
    if (open_reader(c) < 0) {
        close_with(c, WS_CLOSE_INTERNAL, NULL);
        return flush(c) ? 1 : 0;
    }
    c->reader->read_budget = READ_BUDGET;
    c->in_recv = true;
    int rc = wslay_event_recv(c->reader->ctx);
    c->in_recv = false;
    if (rc < 0 && c->reader->peer_gone) return -1; /* its end of input, or a reset */
    /* wslay gave up on a frame without a close of its own making (a
     * fragmented control frame: it queued one without a code) */
    if (rc < 0) close_with(c, rc == WSLAY_ERR_NOMEM ? WS_CLOSE_INTERNAL : WS_CLOSE_PROTOCOL, NULL);
    if (flush(c)) return 1;
    close_reader_if_idle(c);
    return 0;
}

static void on_client_gone(struct request *r) { finish(r->stream_arg); }

struct ws_conn *ws_conn_new(struct request *r, struct fanout *fanout, struct ws_framer *framer,
                            const struct ws_conn_handlers *h, void *arg) {
    struct ws_conn *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    *c = (struct ws_conn){.r = r, .fanout = fanout, .framer = framer, .h = h, .arg = arg};
    r->stream_arg = c;
    r->on_close = on_client_gone;
    http_stream_set_reader(r, on_readable, c);
    return c;
}

/* ---- what chatd sends ---- */

/* Frames data with opcode and queues it; false when out of memory. */
static bool send_frame(struct ws_conn *c, int opcode, const char *data, size_t len) {
    struct evbuffer *passing = c->framer->passing;
    fanout_flush(c->fanout);
    if (ws_framer_frame(c->framer, passing, opcode, data, len) < 0) {
        evbuffer_drain(passing, evbuffer_get_length(passing));
        return false;
    }
    write_out(c);
    return true;
}

/* Sends the close frame and ends: through wslay while it reads (it must
 * know, and the end waits for the reading to return), else at once. */
static void close_with(struct ws_conn *c, int code, const char *reason) {
    if (!c->close_code) c->close_code = (uint16_t)code;
    size_t len = reason ? strnlen(reason, CLOSE_REASON_MAX) : 0;
    if (c->reader) {
        wslay_event_queue_close(c->reader->ctx, (uint16_t)code, (const uint8_t *)reason, len);
        return;
    }
    char payload[2 + CLOSE_REASON_MAX];
    payload[0] = (char)(code >> 8);
    payload[1] = (char)(code & 0xff);
    if (len) memcpy(payload + 2, reason, len);
    send_frame(c, WSLAY_CONNECTION_CLOSE, payload, 2 + len);
    c->over = true;
}

void ws_conn_send_text(struct ws_conn *c, const char *data, size_t len) {
    if (c->over || (c->reader && wslay_event_get_close_sent(c->reader->ctx))) return;
    if (!send_frame(c, WSLAY_TEXT_FRAME, data, len)) close_with(c, WS_CLOSE_INTERNAL, NULL);
    if (!c->in_recv) flush(c);
}

void ws_conn_send_buffer(struct ws_conn *c, struct evbuffer *buf) {
    size_t len = evbuffer_get_length(buf);
    const char *data = (const char *)evbuffer_pullup(buf, -1);
    if (data || len == 0) ws_conn_send_text(c, data ? data : "", len);
    evbuffer_drain(buf, len);
}

void ws_conn_add_frame(struct ws_conn *c, const char *data, size_t len) {
    fanout_add(c->fanout, c->r, data, len);
}

void ws_conn_close(struct ws_conn *c, int code, const char *reason) {
    close_with(c, code, reason);
    if (!c->in_recv) flush(c);
}

void ws_conn_ping(struct ws_conn *c) {
    c->unanswered = c->heard ? 0 : (uint8_t)(c->unanswered + 1); /* it ends past 1 */
    if (c->unanswered > WS_CONN_UNANSWERED_MAX) { /* gone, or too stuck to be served */
        ws_conn_close(c, WS_CLOSE_GOING_AWAY, "no pong");
        return;
    }
    c->heard = false;
    c->pings = 0;
    if (!send_frame(c, WSLAY_PING, "", 0)) ws_conn_close(c, WS_CLOSE_INTERNAL, NULL);
}

size_t ws_conn_backlog(const struct ws_conn *c) { return http_stream_backlog(c->r); }

void ws_conn_notify_drained(struct ws_conn *c, bool on) { c->notify_drained = on; }

/* ---- frames made by the server ---- */

static ssize_t on_frame_bytes(const uint8_t *data, size_t len, int flags, void *arg) {
    (void)flags;
    struct ws_framer *f = arg;
    return evbuffer_add(f->out, data, len) == 0 ? (ssize_t)len : WSLAY_ERR_NOMEM;
}

struct ws_framer *ws_framer_new(void) {
    static const struct wslay_frame_callbacks callbacks = {.send_callback = on_frame_bytes};
    struct ws_framer *f = calloc(1, sizeof(*f));
    if (!f) return NULL;
    f->passing = evbuffer_new();
    if (!f->passing || wslay_frame_context_init(&f->ctx, &callbacks, f) != 0) {
        if (f->passing) evbuffer_free(f->passing);
        free(f);
        return NULL;
    }
    return f;
}

void ws_framer_free(struct ws_framer *f) {
    if (!f) return;
    wslay_frame_context_free(f->ctx);
    evbuffer_free(f->passing);
    free(f);
}

int ws_framer_frame(struct ws_framer *f, struct evbuffer *out, int opcode, const char *data,
                    size_t len) {
    struct wslay_frame_iocb iocb = {.fin = 1, .opcode = (uint8_t)opcode, .payload_length = len,
                                    .data = (const uint8_t *)data, .data_length = len};
    f->out = out;
    ssize_t n = wslay_frame_send(f->ctx, &iocb);
    f->out = NULL;
    return n == (ssize_t)len ? 0 : -1;
}
