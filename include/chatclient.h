/*
 * libchatclient: a small blocking C client for the clusterchat REST API.
 *
 * One chat_client holds a base URL, a libcurl handle and at most one session
 * token. Every call returns CHAT_OK (0) or a negative chat_err; after a
 * failure chat_client_error() tells why in words and chat_client_status()
 * gives the HTTP status (0 when no response arrived). A chat_client is not
 * thread-safe: use one per thread.
 *
 * Retries. chat_send(), chat_login() and chat_history() are safe to repeat.
 * When an attempt gets no HTTP response at all (CHAT_ERR_NETWORK: refused,
 * reset, timed out; but not a malformed URL or a TLS certificate that fails
 * verification, which no retry cures), a 503 (CHAT_ERR_UNAVAILABLE, e.g.
 * while the server's Redis cluster fails over), or a 502 or 504 from a load
 * balancer whose server went away mid-request (CHAT_ERR_SERVER), they send
 * the same request again after a backoff of 50 ms that doubles up to 1 s,
 * each delay plus a random 0-25 %. A 429 (CHAT_ERR_RATE_LIMITED) is repeated
 * too, but not before the server's Retry-After has passed. They retry as long
 * as the next attempt would start within
 * the retry budget, counted from the start of the call (default 30000 ms, see
 * chat_client_set_retry()); an attempt already running is bounded only by
 * the request timeout, so a call returns within about budget + timeout. Every
 * other outcome ends the call at once: a 2xx, any 4xx, any other 5xx, a
 * garbled answer, out of memory. chat_register() is never retried (a repeat
 * could meet the account its own lost first attempt created and answer 409),
 * nor is chat_logout(). When retries run out, the call returns the last
 * attempt's error and status, and chat_client_error() says how many attempts
 * were made. chat_tail() reconnects by rules of its own, see "Following a
 * room live" below.
 *
 * Each chat_send() carries a clientMsgId (32 random lowercase hex digits
 * unless chat_send_with_id() names one), the same in every attempt. The
 * server stores a message once per user and clientMsgId for 24 hours; a
 * repeat gets the first message back, marked as replayed (see
 * chat_client_last_replayed()). So a send whose response was lost is not
 * stored twice when it is retried.
 */
#ifndef CHATCLIENT_H
#define CHATCLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes, one per kind of failure a caller may want to react to. */
typedef enum chat_err {
    CHAT_OK = 0,
    CHAT_ERR_NETWORK = -1,     /* no HTTP response (refused, reset, timeout) */
    CHAT_ERR_INVALID = -2,     /* 400, 413 or 415: the request was refused */
    CHAT_ERR_AUTH = -3,        /* 401: wrong credentials or no valid session */
    CHAT_ERR_CONFLICT = -4,    /* 409: e-mail already registered */
    CHAT_ERR_NOT_FOUND = -5,   /* 404 or 405 */
    CHAT_ERR_UNAVAILABLE = -6, /* 503: the server cannot reach its database */
    CHAT_ERR_SERVER = -7,      /* any other unexpected HTTP status */
    CHAT_ERR_PROTOCOL = -8,    /* the response was not the JSON we expect */
    CHAT_ERR_NOMEM = -9,       /* out of memory */
    CHAT_ERR_USAGE = -10,      /* bad arguments, e.g. no session for send */
    CHAT_ERR_RATE_LIMITED = -11 /* 429: over one of the server's abuse limits */
} chat_err;

/* A user as the server describes it. Strings are owned by the struct. */
typedef struct chat_user {
    char *id;    /* server-generated user id */
    char *email; /* normalised e-mail address */
    char *name;  /* display name */
} chat_user;

/* One chat message. Strings are owned by the struct. */
typedef struct chat_message {
    char *id;          /* stream id "<ms>-<seq>", totally ordered */
    char *user_id;     /* author's user id */
    char *name;        /* author's display name at send time */
    char *text;        /* UTF-8 text */
    int64_t timestamp; /* server receive time, ms since the epoch */
    /* A room event's kind ("joined", "edited", "reaction", ...), the id
     * of the user or message it is about, the role it gives ("" for none)
     * and, for a "reaction", "added" or "removed" (its text is the emoji);
     * NULL for a message. */
    char *event;
    char *target;
    char *role;
    char *action;
    /* A reply: the id of the message it answers and the quote of it (its
     * author's name, its first characters); NULL for other messages. */
    char *reply_to;
    char *quote_name;
    char *quote_text;
} chat_message;

/* A list of messages, oldest first. */
typedef struct chat_message_list {
    chat_message *items; /* array of count messages */
    size_t count;        /* number of messages */
} chat_message_list;

typedef struct chat_client chat_client;

/* Creates a client for base_url (e.g. "http://localhost:8182"); NULL on OOM. */
chat_client *chat_client_new(const char *base_url);
/* Frees the client; NULL is fine. Does not log out. */
void chat_client_free(chat_client *c);

/* Sets (or with NULL clears) the session token sent as the authKey cookie. */
int chat_client_set_token(chat_client *c, const char *token);
/* The current session token, or NULL when logged out. Owned by the client. */
const char *chat_client_token(const chat_client *c);
/* Words describing the last failure ("" after a success). */
const char *chat_client_error(const chat_client *c);
/* The HTTP status of the last response, 0 if none arrived. */
int chat_client_status(const chat_client *c);
/* For https:// servers: verify the server's certificate against the CA
 * certificates in the PEM file path (e.g. a self-signed server certificate
 * itself) instead of the system's; NULL goes back to the system's. The file
 * is read at each connection. CHAT_OK, or CHAT_ERR_NOMEM. A certificate that
 * fails verification ends a call with CHAT_ERR_NETWORK at once (no retry),
 * chat_client_error() saying that it is not trusted. */
int chat_client_set_cacert(chat_client *c, const char *path);
/* Total timeout per HTTP request in milliseconds (default 10000). */
void chat_client_set_timeout(chat_client *c, long timeout_ms);
/* Wall time in milliseconds, from the start of a call, within which send,
 * login and history may start a retry (default 30000; 0 disables retries; a
 * negative value restores the default). See "Retries" above. */
void chat_client_set_retry(chat_client *c, long budget_ms);
/* How many HTTP attempts the last call made: 1 when it was not retried, 0
 * when it failed before sending anything (e.g. CHAT_ERR_USAGE). */
unsigned chat_client_attempts(const chat_client *c);
/* 1 when the last call was a send whose response carried
 * "Idempotent-Replayed: true" (the server had already stored a message with
 * this clientMsgId and returned it instead of storing another), else 0. */
int chat_client_last_replayed(const chat_client *c);

/* POST /user/: registers and keeps the returned session token. out may be NULL.
 * Never retried. */
int chat_register(chat_client *c, const char *email, const char *password,
                  const char *name, chat_user *out);
/* PUT /user/: logs in (a new session) and keeps its token. out may be NULL.
 * Retried on CHAT_ERR_NETWORK and 503 (a repeat only opens another session). */
int chat_login(chat_client *c, const char *email, const char *password,
               chat_user *out);
/* POST /user/token: exchanges an application's signed token (a JWT the
 * application's backend issued; see docs/API.md) for a session and keeps
 * its token, like chat_login. out may be NULL; a token user's email is "".
 * Never retried (a token with a jti is taken once). CHAT_ERR_AUTH when the
 * server refuses the token (chat_client_error() says why). */
int chat_login_token(chat_client *c, const char *jwt, chat_user *out);
/* DELETE /user/session: ends this client's session and forgets the token.
 * Not retried. */
int chat_logout(chat_client *c);
/* POST /message/: sends text; out (may be NULL) receives the stored message.
 * Same as chat_send_with_id() with a new random client_msg_id. */
int chat_send(chat_client *c, const char *text, chat_message *out);
/* POST /message/ with the idempotency key client_msg_id (1 to 64 characters
 * of A-Z a-z 0-9 . _ : -, else CHAT_ERR_USAGE; NULL generates one). Retried
 * on CHAT_ERR_NETWORK and 503 with the same key. Sending a key again (within
 * 24 h, same user) returns the message first stored with it: CHAT_OK, with
 * chat_client_last_replayed() = 1. */
int chat_send_with_id(chat_client *c, const char *text, const char *client_msg_id,
                      chat_message *out);
/* GET /message/: messages newer than after (NULL: from the start), at most
 * limit of them (0: no limit), oldest first. Retried on CHAT_ERR_NETWORK and
 * 503 (the whole request again; out only ever holds one complete answer). */
int chat_history(chat_client *c, const char *after, int limit,
                 chat_message_list *out);

/*
 * Rooms and members (lib/rooms.c; docs/API.md, "Private rooms and
 * members"). Each needs a session (else CHAT_ERR_USAGE) and a valid room
 * name; a room the caller may not see is CHAT_ERR_NOT_FOUND, a role that
 * does not allow the call CHAT_ERR_SERVER (403), a taken name
 * CHAT_ERR_CONFLICT. All but chat_message_remove are retried like
 * chat_send (repeating them changes nothing).
 */
/* POST /room/: creates room, public or (private_room nonzero) private,
 * owned by the caller; CHAT_OK also when the caller's room existed. */
int chat_room_create(chat_client *c, const char *room, int private_room);
/* POST /room/<room>/member: adds the user of email (a moderator or owner
 * invites: a member at once); text without '@' names a user id. */
int chat_room_add(chat_client *c, const char *room, const char *email);
/* DELETE /room/<room>/member: leaves room (CHAT_ERR_CONFLICT for its last
 * owner). */
int chat_room_leave(chat_client *c, const char *room);
/* POST /dm/: finds or creates the direct conversation with the user of
 * email (text without '@': a user id); *room_out (when not NULL) gets its
 * room name, to free(). */
int chat_dm(chat_client *c, const char *email, char **room_out);
/* DELETE /room/<room>/message/?id=: a moderator removes message id, or
 * its author deletes it (a tombstone takes its place). Not retried. */
int chat_message_remove(chat_client *c, const char *room, const char *id);
/* PATCH /room/<room>/message/?id=: the author replaces the text of their
 * own message id (another's: CHAT_ERR_SERVER, 403); also for a deletion
 * of one's own message, chat_message_remove. Retried (the same text
 * again changes nothing). */
int chat_message_edit(chat_client *c, const char *room, const char *id, const char *text);
/* PUT (add nonzero) or DELETE /room/<room>/message/reaction?id=: adds or
 * takes back the caller's reaction emoji (one emoji, docs/API.md
 * "Reactions") on message id. Retried (both are idempotent). */
int chat_react(chat_client *c, const char *room, const char *id, const char *emoji, int add);
/* POST /room/<room>/message/ (room NULL: the lobby) like
 * chat_send_with_id with a new client message id; reply_to (may be NULL)
 * names the message of the room it answers (unknown: CHAT_ERR_NOT_FOUND). */
int chat_send_reply(chat_client *c, const char *room, const char *text, const char *reply_to,
                    chat_message *out);

/*
 * Read markers and unread counts (lib/markers.c; docs/API.md, "Read
 * markers and unread counts").
 */
/* PUT /room/<room>/read: moves the caller's read marker of room forward to
 * message id (an older id changes nothing and is CHAT_OK; one beyond the
 * room's newest message is CHAT_ERR_INVALID). Retried. */
int chat_room_read(chat_client *c, const char *room, const char *id);

/* One room of the list. */
typedef struct chat_room_entry {
    char *name;
    char *kind;   /* "private" or "direct"; NULL for a public room */
    char *role;   /* the caller's role, NULL when none */
    char *marker; /* the caller's read marker, NULL when none */
    int unread;   /* others' messages after it, at most CHAT_UNREAD_CAP (100: "99+"); -1 without a session */
} chat_room_entry;

typedef struct chat_room_list {
    chat_room_entry *rooms;
    size_t count;
} chat_room_list;

/* GET /room/: the first page (the lobby, up to 1000 public rooms, the
 * caller's private and direct rooms), with the caller's markers and
 * unread counts when logged in. Release with chat_room_list_cleanup. */
int chat_rooms(chat_client *c, chat_room_list *out);
void chat_room_list_cleanup(chat_room_list *list);

/*
 * Following a room live.
 *
 * chat_tail() reads GET /message/stream (the lobby) or
 * GET /room/<room>/message/stream, the server's Server-Sent Events, and
 * calls on_message once for every message, oldest first: first those newer
 * than after (when after is not NULL), then each new one as it is stored.
 * With after NULL it starts with the messages stored after it connected.
 *
 * It remembers the id of the last message it delivered. When the stream
 * ends or fails (no response, the connection lost, a 5xx, the server closing
 * the stream, no bytes at all for 45 s although the server sends a comment
 * every 15 s), it connects again with that id as Last-Event-ID and skips any
 * message whose id is not greater than it (ids compare as numbers, "<ms>-<seq>"),
 * so that no message is lost or delivered twice. A connection whose server
 * end vanished without a word (a load balancer's address moved to another
 * host, which answers TCP keep-alive probes with a reset) is found by the
 * probes, sent after 5 s without a packet, within seconds. Before reconnecting it
 * waits for the delay the server last asked for with "retry:" (else 1 s; at
 * least 50 ms); when connecting fails again and again, the delay doubles
 * each time up to 10 s (or the server's delay, if longer), plus 0-25 %. It
 * reconnects as long as the next attempt would start within the retry budget
 * (chat_client_set_retry(), default 30000 ms; 0: never reconnect), counted
 * from the end of the last connection that worked (a 2xx event stream) or
 * from the start of the call. Until the first message arrives with after
 * NULL, it resumes from the time in the first working response's Date header
 * minus 1 s: nothing is lost, but messages stored up to about 2 s before the
 * call may be delivered.
 *
 * It returns
 *   CHAT_OK           when on_message returned non-zero (that message counts
 *                     as delivered);
 *   the error of a 4xx (e.g. CHAT_ERR_NOT_FOUND: no such room), a 3xx or
 *                     other unexpected status, at once;
 *   CHAT_ERR_PROTOCOL when a 2xx answer is not text/event-stream, or an event
 *                     is not a message (its data is not the message JSON, or
 *                     larger than 1 MiB), at once;
 *   CHAT_ERR_USAGE    for a room that is not 1-64 of a-z 0-9 _ -, an after
 *                     that is not a message id, or no on_message (then
 *                     nothing was sent and on_message never ran);
 *   CHAT_ERR_NOMEM    when memory runs out;
 *   the last failure (CHAT_ERR_NETWORK, CHAT_ERR_UNAVAILABLE, ...) when the
 *                     retry budget is spent; chat_client_error() then says
 *                     how many connections were tried.
 * Events whose "event:" type is not "message" are skipped. The client's
 * timeout (chat_client_set_timeout()) bounds connecting and the wait for the
 * first bytes of each answer, not the stream. on_message runs on the
 * calling thread, inside the transfer: it must not use c (use another
 * chat_client to send), and the message's strings are valid only during the
 * call. The session token, if any, is sent.
 */

/* Called by chat_tail() for each message; non-zero stops chat_tail(). */
typedef int chat_tail_fn(const chat_message *m, void *arg);

/* Follows room (NULL or "lobby": the lobby) from after (NULL: only new
 * messages); see "Following a room live" above. */
int chat_tail(chat_client *c, const char *room, const char *after, chat_tail_fn *on_message,
              void *arg);
/* The same over GET /ws, chatd's WebSocket (it needs a session: the
 * token is sent as a Bearer header): a subscribe from after, then the
 * messages, each once and in id order; a lost connection (also a server
 * closing with 1001 as it drains, or 1013) is opened again, subscribing
 * from the last id delivered, with chat_tail()'s delays and budget. An
 * ended session (close code 4001) gives CHAT_ERR_AUTH; a subscription the
 * server ended (the user left a private room, or was removed or banned)
 * gives CHAT_ERR_NOT_FOUND, as chat_tail()'s next stream would. */
int chat_tail_ws(chat_client *c, const char *room, const char *after, chat_tail_fn *on_message,
                 void *arg);
/* Called by chat_tail() for each typing or presence signal of the room
 * (docs/API.md, "Typing and presence"): kind is "typing" or "presence",
 * data the event's JSON object (len bytes, NUL-terminated), valid during
 * the call. Signals have no id: they move no resume position. */
typedef void chat_signal_fn(const char *kind, const char *data, size_t len, void *arg);
/* Makes chat_tail() on c ask for the room's signals (?signals=1) and hand
 * each to fn; NULL (the default) asks for none. chat_tail_ws() ignores it. */
void chat_client_on_signal(chat_client *c, chat_signal_fn *fn, void *arg);

/* Who is online in a room: one page of GET /room/<room>/presence. */
typedef struct chat_online {
    long long count;  /* every user online */
    size_t n;         /* users in this page */
    char **ids;       /* their ids, in id order */
    char **names;     /* and display names */
    char *next;       /* after for the next page; NULL after the last */
} chat_online;
/* Reads up to limit (1-1000) users online in room after the id after
 * (NULL: from the first). Retried. The lobby has no presence
 * (CHAT_ERR_NOT_FOUND). */
int chat_room_online(chat_client *c, const char *room, const char *after, int limit,
                     chat_online *out);
void chat_online_cleanup(chat_online *o);

/* The id of the last message chat_tail() delivered on this client (during
 * on_message: of that message), else its after argument; NULL when there is
 * none. Pass it as after to resume where a tail ended (also straight to
 * chat_tail() on the same client). Owned by the client; valid until the next
 * chat_tail() on it. */
const char *chat_client_last_event_id(const chat_client *c);

/* Free the strings inside the structs (the structs themselves are the caller's). */
void chat_user_cleanup(chat_user *u);
void chat_message_cleanup(chat_message *m);
void chat_message_list_cleanup(chat_message_list *list);

/* A short constant name for an error code ("CHAT_ERR_AUTH"). */
const char *chat_err_name(int err);

/*
 * Members and moderation (lib/rooms.c; docs/API.md, "/room/<name>/member").
 * A user is named by e-mail address or, when the text has no '@', by user
 * id (as chat_members() prints it). Each needs a session; errors as for
 * the room calls above. All are retried like chat_send.
 */
/* One member of a room. Strings are owned by the struct. */
typedef struct chat_member {
    char *user_id; /* the user's id */
    char *role;    /* "owner", "moderator", "member" or "banned" */
    char *name;    /* display name ("" when the room has none for them) */
} chat_member;

/* A room's members, in the server's order. */
typedef struct chat_member_list {
    chat_member *items; /* array of count members */
    size_t count;
} chat_member_list;

/* GET /room/<room>/member: the members of room (banned users only for its
 * moderators and owners). Free with chat_member_list_cleanup. */
int chat_members(chat_client *c, const char *room, chat_member_list *out);
void chat_member_list_cleanup(chat_member_list *list);
/* POST /room/<room>/member {}: joins a public room. */
int chat_room_join(chat_client *c, const char *room);
/* PUT /room/<room>/member: gives user (e-mail or id) role: "owner",
 * "moderator" or "member" (owners), or "banned" (moderators, owners). */
int chat_room_set_role(chat_client *c, const char *room, const char *user, const char *role);
/* DELETE /room/<room>/member?userId=: removes the member user_id, or lifts
 * that user's ban (moderators, owners). */
int chat_room_remove_member(chat_client *c, const char *room, const char *user_id);
/* PUT (locked nonzero) or DELETE /user/<user_id>/lock: a site
 * administrator locks an account (its sessions and streams end) or lifts
 * the lock. */
int chat_user_lock(chat_client *c, const char *user_id, int locked);

#ifdef __cplusplus
}
#endif
#endif
