/*
 * ws_conn: one WebSocket connection on an upgraded connection
 * (http_stream_upgrade): frames in and out through wslay's event API,
 * pings, and the close handshake. It knows no rooms or users: whole text
 * messages (checked to be UTF-8) go to on_text, the owner's answers come
 * back through ws_conn_send_text.
 *
 * The close codes it sends itself: 1002 for a frame that breaks RFC 6455
 * (unmasked, a bad opcode or length, a control frame fragmented), 1003 for
 * a binary message, 1007 for text that is not UTF-8, 1008 for a ping
 * flood, 1009 for a message over WS_CONN_MESSAGE_MAX bytes; the owner
 * chooses the others (ws_conn_close).
 *
 * Bytes leave in the order they were written, whether framed here or
 * framed once for many connections (ws_conn_add_frame): what chatd sends
 * is framed by the server's ws_framer straight into the stream's queue,
 * and what wslay frames itself (pongs, its close frames) is handed over at
 * once, through one buffer of the framer's. wslay's reader (8.8 KB) exists
 * only while a frame is in reach: an idle connection between two frames
 * keeps a small struct and nothing else of its own.
 *
 * Loop thread only. on_end runs once, when the connection is over (the
 * close frame is out, or the client went away): c is gone after it.
 */
#ifndef CHAT_WS_CONN_H
#define CHAT_WS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct request;
struct fanout;
struct evbuffer;
struct ws_conn;
struct ws_framer;

#define WS_CONN_MESSAGE_MAX 32768 /* bytes of one message from a client */
#define WS_CONN_PINGS_MAX 32      /* pings a client may send per ping period */
#define WS_CONN_UNANSWERED_MAX 1  /* ping periods a client may stay silent */

/* RFC 6455 close codes chatd sends, and its own (4000-4999). */
enum ws_close_code {
    WS_CLOSE_NORMAL = 1000,       /* done */
    WS_CLOSE_GOING_AWAY = 1001,   /* the server drains: reconnect (elsewhere) and resume */
    WS_CLOSE_PROTOCOL = 1002,     /* a frame broke RFC 6455: do not retry as it is */
    WS_CLOSE_UNSUPPORTED = 1003,  /* a binary message */
    WS_CLOSE_BAD_DATA = 1007,     /* text that is not UTF-8 */
    WS_CLOSE_POLICY = 1008,       /* the protocol's rules (a ping flood, too many queued) */
    WS_CLOSE_TOO_BIG = 1009,      /* a message over WS_CONN_MESSAGE_MAX */
    WS_CLOSE_INTERNAL = 1011,     /* out of memory or the like: reconnect */
    WS_CLOSE_TRY_AGAIN = 1013,    /* too slow a reader, or the history unreadable: resume */
    WS_CLOSE_UNAUTHORIZED = 4001, /* no valid session: log in again before reconnecting */
    WS_CLOSE_AUTH_TIMEOUT = 4008, /* no auth message in time */
};

/* What the owner hears. */
struct ws_conn_handlers {
    /* A whole text message, valid UTF-8 (data is not NUL-terminated). The
     * owner may call ws_conn_close inside. */
    void (*on_text)(void *arg, const char *data, size_t len);
    /* The connection is over; code is the close code sent or received (1006
     * when the client vanished without one). */
    void (*on_end)(void *arg, int code);
    /* The socket took everything queued, after a send made while
     * ws_conn_notify_drained is on; may be NULL if it never is. */
    void (*on_drained)(void *arg);
};

/* Speaks WebSocket on r, an upgraded stream; r belongs to c from now on
 * and is ended with it. fanout and framer are the server's (shared by
 * every connection); h is kept (a static table), not copied. NULL when out
 * of memory (r is then left as it was). */
struct ws_conn *ws_conn_new(struct request *r, struct fanout *fanout, struct ws_framer *framer,
                            const struct ws_conn_handlers *h, void *arg);

/* Sends one text message (a copy of data is queued). */
void ws_conn_send_text(struct ws_conn *c, const char *data, size_t len);
/* The same for the bytes of buf, which is emptied. */
void ws_conn_send_buffer(struct ws_conn *c, struct evbuffer *buf);
/* Queues data, a whole frame made by ws_framer_frame, in fanout's batch
 * (sse_fanout.h): sent with everyone's at the next fanout_flush. */
void ws_conn_add_frame(struct ws_conn *c, const char *data, size_t len);
/* Sends the close frame with code and reason (may be NULL); the
 * connection ends once it is out (on_end runs then, or after on_text
 * returns when called inside it). */
void ws_conn_close(struct ws_conn *c, int code, const char *reason);
/* Pings the client and starts a new ping-counting period; a client that
 * sent nothing (not even a pong) for more than WS_CONN_UNANSWERED_MAX
 * whole periods is closed with 1001 instead: it is gone, or too stuck to
 * be served. */
void ws_conn_ping(struct ws_conn *c);
/* Bytes queued for the client, not yet taken by its socket. */
size_t ws_conn_backlog(const struct ws_conn *c);
/* on: every later send runs h->on_drained once the socket has taken
 * everything queued (see stream_sock_send); off: nothing runs. */
void ws_conn_notify_drained(struct ws_conn *c, bool on);

/* The server's frame encoder: server frames are not masked, so one frame
 * of a live message serves every connection. Loop thread only. */
struct ws_framer;
struct ws_framer *ws_framer_new(void);
void ws_framer_free(struct ws_framer *f);
/* Appends data[0..len) as one unfragmented frame with opcode (1 text, 8
 * close, 9 ping) to out; 0 or -1. */
int ws_framer_frame(struct ws_framer *f, struct evbuffer *out, int opcode, const char *data,
                    size_t len);

#endif
