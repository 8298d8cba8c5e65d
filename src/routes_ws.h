/*
 * routes_ws: what GET /ws's two files share (routes_ws.c: the upgrade, the
 * connections, authentication and sends; ws_subs.c: the rooms a connection
 * follows). Not for other files: routes.h declares the route and the
 * functions main.c calls.
 */
#ifndef CHAT_ROUTES_WS_H
#define CHAT_ROUTES_WS_H

#include <stdbool.h>
#include <stdint.h>

#include "client_addr.h"
#include "message.h"
#include "token.h"

struct server;
struct ws_conn;
struct ws_sub;
struct ws_held;
struct ws_msg;
struct evbuffer;
struct ws_framer;
struct session_stream_link;

/* One WebSocket client: what an idle one keeps, as small as it goes (the
 * session's user is read again for every send and kept by the send).
 * Freed when its connection is over and no store callback of its own is
 * pending (ws_client_release). */
struct ws_client {
    struct ws_server *owner;
    struct server *srv;
    struct ws_conn *conn;          /* NULL once the connection is over */
    struct ws_sub *subs;           /* the rooms it follows */
    struct hub_sub *user_sub;      /* its user's own events (subscribe_user), or NULL */
    struct ws_sub *replaying;      /* the subscription reading its history, or NULL */
    struct ws_held *held;          /* messages that came while auth_pending */
    struct ws_client *prev, *next; /* the server's clients */
    struct session_stream_link *session; /* once authenticated: holds the session's hash */
    int pending;                   /* store callbacks in flight that hold it */
    uint8_t nsubs;
    uint8_t nheld;
    uint8_t unauth_periods;        /* ping periods passed without authentication */
    bool authenticated : 1;
    bool auth_pending : 1;         /* an auth message's session read is in flight */
    bool awaiting_drain : 1;       /* a replay batch is on its way out */
    bool signals : 1;              /* asked for typing and presence (?signals=1) */
    char id[24];                   /* the upgrade's request id, for logs */
    char user_id[CHAT_USER_ID_LEN + 1]; /* who it is, once authenticated */
    char address[];                /* holds one of srv->stream_slots */
};

/* The WebSocket clients of one server (srv->ws). */
struct ws_server {
    struct server *srv;
    struct ws_client *clients;
    int count;
    struct event *heartbeat;      /* pings every client */
    struct ws_framer *framer;     /* live messages framed once for every client */
    struct evbuffer *frame;       /* the last live message, framed */
    char frame_room[CHAT_ROOM_MAX + 1];
    char frame_id[CHAT_STREAM_ID_MAX + 1]; /* "" when frame holds none */
    struct evbuffer *scratch;     /* a message being encoded */
};

/* Drops c's hold taken for a store call; frees c when its connection is
 * over and nothing holds it. True when c is gone. */
bool ws_client_release(struct ws_client *c);
/* The hash of an authenticated c's session (read again for every send). */
const char *ws_client_session(const struct ws_client *c);
/* Sends an error answer (see ws_protocol_error_append). */
void ws_client_error(struct ws_client *c, int api_err, const char *message,
                     const char *client_msg_id, const char *room, int retry_after_s);
/* Sends what out holds (emptied) as one message. */
void ws_client_send(struct ws_client *c, struct evbuffer *out);

/* ws_subs.c: subscribe and unsubscribe (m checked by ws_protocol_parse). */
void ws_subs_subscribe(struct ws_client *c, const struct ws_msg *m);
void ws_subs_unsubscribe(struct ws_client *c, const char *room);
/* Whether c follows room (it exists then). */
bool ws_subs_follows(const struct ws_client *c, const char *room);
/* A replay batch of c went out (ws_conn's on_drained): the next one is
 * read. */
void ws_subs_on_drained(void *arg);
/* Ends every subscription of c (its connection is over). */
void ws_subs_drop_all(struct ws_client *c);
/* subscribe_user: c gets its user's own events ({"type":"marker"}) from
 * now on, on any chatd they happen (user_feed.h). */
void ws_subs_user(struct ws_client *c);

#endif
