/*
 * routes: the handlers of the REST API, one file per resource
 * (routes_user.c, routes_message.c, routes_health.c), and the table that
 * maps paths and methods to them (routes.c).
 */
#ifndef CHAT_ROUTES_H
#define CHAT_ROUTES_H

#include <stddef.h>

#include <stdbool.h>

#include "http.h"
#include "token.h"

void route_user_register(struct request *r); /* POST /user/ */
void route_user_login(struct request *r);    /* PUT /user/ */
void route_user_logout(struct request *r);   /* DELETE /user/session */
void route_user_password(struct request *r); /* PUT /user/password */
void route_user_me(struct request *r);       /* GET /user/ */
void route_message_send(struct request *r);  /* POST /message/ */
void route_message_list(struct request *r);  /* GET /message/ */
void route_message_stream(struct request *r); /* GET /message/stream */
/* Long-poll: GET /message/?after=ID&wait=SECONDS (route_message_list hands over). */
void route_message_wait(struct request *r, const char *room, const char *after, int limit,
                        int wait_s);
/* The open event streams of one server (routes_stream.c); made once the hub
 * and the fan-out exist, which it wires together. NULL when out of memory. */
struct routes_stream *routes_stream_new(struct server *srv);
/* Ends every event stream with a short reconnection hint (drain, shutdown).
 * NULL is fine. */
void routes_stream_close_all(struct routes_stream *rs);
/* Frees rs, whose streams are closed. NULL is fine. */
void routes_stream_free(struct routes_stream *rs);
/* The parked long-polls of one server (routes_wait.c); NULL when out of
 * memory. */
struct routes_wait *routes_wait_new(void);
/* Answers every long-poll now (with what is there, usually []). NULL is
 * fine. */
void routes_wait_close_all(struct routes_wait *rw);
/* Frees rw, whose long-polls are answered. NULL is fine. */
void routes_wait_free(struct routes_wait *rw);
void route_health(struct request *r);        /* GET /health */
void route_metrics(struct request *r);       /* GET /metrics */
void route_ready(struct request *r);         /* GET /ready */

void route_room_list(struct request *r);     /* GET /room/ */
void route_room_create(struct request *r);   /* POST /room/ */
/* GET /, /app.js, …: the browser client's files (routes_static.c). */
void route_static(struct request *r);

/* The room a request is about: its /room/<name>/ segment, or "lobby" for
 * the /message/ paths. When the name is invalid it answers 400 and returns
 * NULL: the handler must then return at once. */
const char *route_room(struct request *r);

/* The hash of the request's session token (cookie or Bearer), under which
 * Redis keeps the session; when there is none it answers 401 and returns
 * false: the handler must then return at once. */
bool route_session_hash(struct request *r, char hash[TOKEN_HASH_LEN + 1]);

/* The routing table and its length. */
extern const struct route routes_table[];
extern const size_t routes_count;

#endif
