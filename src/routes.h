/*
 * routes: the handlers of the REST API, one file per resource, every one
 * declared here by its file; the table that maps paths and methods to them
 * and the helpers they share (routes.c). Handlers are named route_*;
 * helpers are named routes_*, and a helper that answers the request itself
 * when it fails says so in its name (routes_room_or_400).
 */
#ifndef CHAT_ROUTES_H
#define CHAT_ROUTES_H

#include <stddef.h>

#include <stdbool.h>

#include "http.h"

struct addr_slots;
#include "ratelimit.h"
#include "store.h"
#include "token.h"
#include "webhook_event.h"
#include "workers.h"

/* routes_user.c: accounts and sessions. */
void route_user_register(struct request *r); /* POST /user/ */
void route_user_login(struct request *r);    /* PUT /user/ */
void route_user_logout(struct request *r);   /* DELETE /user/session */
void route_user_me(struct request *r);       /* GET /user/ */

/* Sets the session cookie to token for max_age seconds ("" and 0 end it):
 * __Host-authKey over TLS, authKey over plain HTTP (routes_user.c). */
void routes_add_session_cookie(struct request *r, const char *token, int max_age);
/* The "email" a reply shows for a session's or record's email: "" for a
 * token user's account handle, which is no address (routes_user.c). */
const char *routes_public_email(const char *email);
/* Adds "admin": true to a reply about the user of email when that user is
 * a site administrator (--admins); nothing otherwise (routes_user.c). */
void routes_user_mark_admin(struct request *r, json_t *body, const char *email);

/* routes_token.c: POST /user/token, a session for an application's token. */
void route_user_token(struct request *r);

/* Ends the session cookies of r's reply (logout, account deletion). */
void routes_user_clear_cookies(struct request *r);

/* routes_account.c */
void route_user_delete(struct request *r);   /* DELETE /user/: delete one's own account */
void route_user_lock(struct request *r);     /* PUT /user/<id>/lock: a site administrator's */
void route_user_unlock(struct request *r);   /* DELETE /user/<id>/lock */

/* routes_password.c */
void route_user_password(struct request *r); /* PUT /user/password */

/* routes_message.c: sending and reading the history. */
void route_message_send(struct request *r);  /* POST /message/, /room/<name>/message/ */
void route_message_list(struct request *r);  /* GET /message/, /room/<name>/message/ */

/* routes_wait.c: the long-poll, GET /message/?after=ID&wait=SECONDS
 * (route_message_list hands over, once the client may read the room; for
 * a private room revoke_user is the reader, whose answer ends at the room
 * event that takes it out; else NULL). */
void route_message_wait(struct request *r, const char *room, const char *after, int limit,
                        int wait_s, const char *revoke_user);
/* The parked long-polls of one server; NULL when out of memory. */
struct routes_wait *routes_wait_new(void);
/* Answers every long-poll now (with what is there, usually []). NULL is
 * fine. */
void routes_wait_close_all(struct routes_wait *rw);
/* Frees rw, whose long-polls are answered. NULL is fine. */
void routes_wait_free(struct routes_wait *rw);

/* routes_stream.c: GET /message/stream, the room as Server-Sent Events. */
void route_message_stream(struct request *r);
/* The open event streams of one server; made once the hub and the fan-out
 * exist, which it wires together. NULL when out of memory. */
struct routes_stream *routes_stream_new(struct server *srv);
/* Ends every event stream with a short reconnection hint (drain, shutdown).
 * NULL is fine. */
void routes_stream_close_all(struct routes_stream *rs);
/* Frees rs, whose streams are closed. NULL is fine. */
void routes_stream_free(struct routes_stream *rs);
/* Single-room event streams open now. */
int routes_stream_count(const struct routes_stream *rs);

/* 503 too_many_streams with Retry-After when the server takes no more
 * event streams (single-room, multi-room and WebSocket together, against
 * --max-streams) or drains; r is answered then and the handler returns. */
bool routes_stream_slot_or_503(struct request *r);

/* routes_ws.c: GET /ws, the WebSocket endpoint (ws_subs.c its rooms). */
void route_ws(struct request *r);
/* The WebSocket clients of one server; NULL when out of memory. */
struct ws_server *routes_ws_new(struct server *srv);
/* Closes every WebSocket with 1001 (drain, shutdown). NULL is fine. */
void routes_ws_close_all(struct ws_server *ws);
/* Frees ws, whose clients are closed. NULL is fine. */
void routes_ws_free(struct ws_server *ws);
/* WebSocket clients open now. */
int routes_ws_count(const struct server *srv);

/* routes_multi_stream.c: GET /stream?rooms=a,b, several rooms in one stream. */
void route_multi_stream(struct request *r);
/* Multi-room event streams open now. */
int routes_multi_stream_count(const struct server *srv);
/* The same as routes_stream_close_all, for the multi-room streams. */
void routes_multi_stream_close_all(struct server *srv);
/* Frees what the multi-room streams share; call after the HTTP server is gone. */
void routes_multi_stream_free(struct server *srv);

/* routes_room.c */
void route_room_list(struct request *r);     /* GET /room/ */
void route_room_create(struct request *r);   /* POST /room/ */

/* routes_member.c: a room's members, /room/<name>/member. */
void route_member_list(struct request *r);   /* GET */
void route_member_add(struct request *r);    /* POST: join, or add (invite) a user */
void route_member_set(struct request *r);    /* PUT: a role, or a ban */
void route_member_remove(struct request *r); /* DELETE: leave, or ?userId= remove */

/* routes_direct.c */
void route_direct_open(struct request *r); /* POST /dm/: the conversation with a user */

/* routes_moderation.c */
void route_message_remove(struct request *r); /* DELETE /room/<name>/message/?id= */
void route_message_edit(struct request *r);   /* PATCH /room/<name>/message/?id= */
void route_reaction_add(struct request *r);    /* PUT /room/<name>/message/reaction?id= */
void route_reaction_remove(struct request *r); /* DELETE /room/<name>/message/reaction?id= */

/* routes_read.c */
void route_room_read(struct request *r); /* PUT /room/<name>/read: the caller's read marker */

/* routes_unread.c: runs once, later, when the list got its markers and
 * counts (API_E_OK) or could not (the error to answer). */
typedef void routes_unread_fn(api_error e, void *arg);
/* Adds to each entry ({"name"}) of list (a non-empty array, kept alive
 * until done) the caller's "marker" (when set) and "unread", the messages
 * after it that others wrote, at most CHAT_UNREAD_CAP. 0, or -1 (done
 * never runs). */
int routes_unread_annotate(struct server *srv, const char *user_id, json_t *list,
                           routes_unread_fn *done, void *arg);

void route_room_typing(struct request *r);    /* POST /room/<name>/typing */
/* Whether a stream's request asks for the ephemeral signals (typing,
 * presence) with ?signals=1: a client that knows only messages gets none. */
bool routes_wants_signals(struct request *r);
void route_room_presence(struct request *r);  /* GET /room/<name>/presence */

/* routes_health.c */
void route_health(struct request *r);        /* GET /health */
void route_metrics(struct request *r);       /* GET /metrics */
void route_ready(struct request *r);         /* GET /ready */

/* routes_static.c: GET /, /app.js, …: the browser client's files. */
void route_static(struct request *r);

/* The server API (/api/v1/..., docs/API.md "The server API"): every call
 * names an API key; none takes a session. */
/* routes_api_room.c */
void route_api_room_create(struct request *r);     /* POST /api/v1/room/ */
void route_api_room_list(struct request *r);       /* GET /api/v1/room/ */
void route_api_room_counts(struct request *r);     /* GET /api/v1/room/<name>/counts */
void route_api_room_presence(struct request *r);   /* GET /api/v1/room/<name>/presence */
/* routes_api_member.c: /api/v1/room/<name>/member */
void route_api_member_list(struct request *r);     /* GET */
void route_api_member_add(struct request *r);      /* POST */
void route_api_member_set(struct request *r);      /* PUT */
void route_api_member_remove(struct request *r);   /* DELETE */
/* routes_api_message.c: /api/v1/room/<name>/message */
void route_api_message_publish(struct request *r); /* POST */
void route_api_message_history(struct request *r); /* GET */
void route_api_message_remove(struct request *r);  /* DELETE ?id= */
/* routes_api_user.c: /api/v1/user/<userId>/session */
void route_api_user_sessions(struct request *r);   /* GET */
void route_api_user_disconnect(struct request *r); /* DELETE: ends every session */

/* routes_api.c: a server-API route's body, run once the call's key passed
 * (key_id is its id); it answers r. */
typedef void routes_api_fn(struct request *r, const char *key_id);
/* Checks r's API key (Authorization: Bearer), counts the call against
 * --limit-api-key and logs it with the key's id, then runs then(r); else
 * answers r itself: 401 invalid_api_key, 429 or 503. */
void routes_api_call(struct request *r, routes_api_fn *then);

/* ---- routes.c: the helpers the handlers share ---- */

/* The room a request is about: its /room/<name>/ segment, or "lobby" for
 * the /message/ paths. When the name is invalid it answers 400 and returns
 * NULL: the handler must then return at once. */
const char *routes_room_or_400(struct request *r);

/* Whether room is the lobby, which exists without POST /room/. */
bool routes_room_is_lobby(const char *room);

/* The answer to a request about a room when store_rooms_exist reported
 * st != STORE_OK: 404 not_found for a room never created, else 503 or 500. */
api_error routes_room_error(enum store_status st);

/* strcmp of two room names behind pointers, for qsort. */
int routes_compare_names(const void *a, const void *b);

/* The hash of the request's session token (cookie or Bearer), under which
 * Redis keeps the session; when there is none it answers 401 and returns
 * false: the handler must then return at once. */
bool routes_session_hash_or_401(struct request *r, char hash[TOKEN_HASH_LEN + 1]);

/* What a route on one message (/room/<name>/message/?id=) needs: the room
 * (pointing into the request), the session's hash and the message's id.
 * When one is missing or invalid it answers 400 or 401 and returns false:
 * the handler must then return at once. */
bool routes_message_target_or_4xx(struct request *r, const char **room,
                                  char hash[TOKEN_HASH_LEN + 1], char id[CHAT_STREAM_ID_MAX + 1]);

/* The API error for a store call that failed (st != STORE_OK): 503
 * unavailable when Redis did not answer in time, else 500 internal. A
 * route that gives STORE_NOT_FOUND or STORE_EXISTS a meaning checks those
 * first. */
api_error routes_store_error(enum store_status st);

/* Takes one of the slots of t (srv->stream_slots, srv->long_poll_slots)
 * for r's client address, written to address for the release
 * (addr_slots_release). False when that address holds its cap already:
 * r is answered 429 too_many_from_address with Retry-After and freed. */
bool routes_take_address_slot(struct request *r, struct addr_slots *t,
                              char address[CLIENT_ADDR_MAX]);

/* Queues password work for r on the workers (work and done as for
 * workers_submit, with arg); the job is withdrawn unhashed, and done runs
 * cancelled, if r's client goes away while it waits. API_E_OK, else the
 * error to answer (done never runs): API_E_BUSY when --max-hash-queue jobs
 * wait already. */
api_error routes_submit_hashing(struct request *r, workers_work_fn *work, workers_done_fn *done,
                                void *arg);

/* Counts a password proof by r for the account of email (PUT
 * /user/password, DELETE /user/) as a login attempt, for the e-mail and the
 * client address; as ratelimit_check. */
int routes_count_password_attempt(struct request *r, const char *email, ratelimit_fn *done,
                                  void *arg);

/* Answers a request that ratelimit_check refused: 429 rate_limited with
 * Retry-After for RATE_LIMITED, 503 for RATE_UNCHECKED. Frees r. */
void routes_reply_rate_refused(struct request *r, enum rate_verdict verdict, int retry_after_s);

/* ---- routes_webhook.c: reporting an action to the webhooks ---- */

struct webhooks_event;
/* Answers status with body (taken; NULL: the reply's body is written
 * already) once ev is queued for the webhooks that want its kind, at once
 * when none does; 503 when it could not be queued. */
void routes_reply_with_event(struct request *r, int status, json_t *body,
                             const struct webhooks_event *ev);
/* Whether a webhook wants kind (an event's data is built only then). */
bool routes_event_wanted(const struct request *r, enum webhook_kind kind);
/* The data of a message.created event: {"room", "message": {...}}; NULL
 * when out of memory. */
json_t *routes_message_event_data(const char *room, const struct message *m);
/* Answers 201 (the message written in the reply's body already) once its
 * message.created event is queued: a send's and a publish's. A replay
 * reports the same message, so its event has the same id. */
void routes_reply_message_created(struct request *r, const char *room, const struct message *m);

/* A removal done: the room, the message, its tombstone event, who removed
 * it ("system" for the server API) and whether its author did. */
struct routes_removal_report {
    const char *room, *id, *event_id, *by;
    bool own;
};
/* Answers 200 {"room","id","eventId"} once its message.removed is queued. */
void routes_reply_message_removed(struct request *r, const struct routes_removal_report *x);

/* A member change done: the room, the target and its role after, the room
 * event recorded ("" event_id: none) and who did it ("system" for the
 * server API). */
struct routes_member_report {
    const char *room, *user_id, *name, *role, *event_id, *room_event, *by;
};
/* Answers 200 with body (taken) once the change's event (member.joined,
 * left, banned, role, unbanned) is queued; at once for a change no webhook
 * reports. */
void routes_reply_member_change(struct request *r, json_t *body,
                                const struct routes_member_report *x);

/* A room created: its name, kind, who created it ("system" for the server
 * API) and its first members (the owner; a direct conversation's two). */
struct routes_room_report {
    const char *room, *kind, *by;
    const char *members[2];
    size_t member_count;
};
/* Answers status with body (taken) once the room.created event is queued;
 * a retried creation (200) queues it again under the same event id. */
void routes_reply_room_created(struct request *r, int status, json_t *body,
                               const struct routes_room_report *x);

/* The routing table and its length. */
extern const struct route routes_table[];
extern const size_t routes_count;

#endif
