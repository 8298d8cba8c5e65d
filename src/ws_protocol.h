/*
 * ws_protocol: the JSON messages of GET /ws (docs/API.md, "WebSocket"),
 * pure (no I/O): one client message parsed and checked, and every server
 * message encoded. Each message is one text frame holding one JSON object
 * with a "type": the client sends auth, subscribe, unsubscribe and send;
 * the server answers ready, subscribed, unsubscribed, ack and error, and
 * pushes message and gap events, each carrying its room (and a message
 * its id, the resume position of that room).
 */
#ifndef CHAT_WS_PROTOCOL_H
#define CHAT_WS_PROTOCOL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "chat_wire.h"
#include "errors.h"
#include "message.h"
#include "token.h"

struct evbuffer;

/* What a client message asks for. */
enum ws_msg_type {
    WS_MSG_AUTH,        /* {"type":"auth","authKey":"<session token>"} */
    WS_MSG_SUBSCRIBE,   /* {"type":"subscribe","room":"r","after":"<id>"?,"signals":true?} */
    WS_MSG_UNSUBSCRIBE, /* {"type":"unsubscribe","room":"r"} */
    WS_MSG_SEND,        /* {"type":"send","room":"r","text":"…","clientMsgId":"…"?,"replyTo":"<id>"?} */
    WS_MSG_SUBSCRIBE_USER, /* {"type":"subscribe_user"}: the user's own events (markers) */
};

/* One client message, checked. */
struct ws_msg {
    enum ws_msg_type type;
    char room[CHAT_ROOM_MAX + 1];             /* subscribe, unsubscribe, send */
    char after[CHAT_STREAM_ID_MAX + 1];       /* subscribe: resume after this id, "" for none */
    bool signals;                             /* subscribe: the room's typing and presence too */
    char token[TOKEN_LEN + 1];                /* auth */
    char client_msg_id[CHAT_CLIENT_MSG_ID_MAX + 1]; /* send: "" for none */
    char reply_to[CHAT_STREAM_ID_MAX + 1];    /* send: the message it answers, "" for none */
    const char *text;                         /* send: the text (in json), text_len bytes */
    size_t text_len;
    json_t *json;                             /* the parsed object, owns text */
};

/* Parses data[0..len) into out. API_E_OK (release out with
 * ws_msg_cleanup), or the error to answer (out holds nothing to free):
 * API_E_BAD_JSON, API_E_BAD_REQUEST (no or an unknown type, a missing
 * authKey, a signals that is not a boolean), API_E_INVALID_ROOM,
 * API_E_INVALID_QUERY (after is not an id),
 * API_E_INVALID_TEXT, API_E_INVALID_CLIENT_MSG_ID. *what names the
 * unknown type's problem for the error's message (NULL for the default). */
api_error ws_protocol_parse(const char *data, size_t len, struct ws_msg *out, const char **what);
/* Releases what ws_protocol_parse kept. */
void ws_msg_cleanup(struct ws_msg *m);

/* The server's messages, appended to out as one JSON object each; 0, or -1
 * (as json_message_append: out of memory, or a message that cannot be
 * encoded). */
int ws_protocol_ready_append(struct evbuffer *out, const struct session_user *u);
/* id: where the subscription stands (its resume position), "" for none. */
int ws_protocol_subscribed_append(struct evbuffer *out, const char *room, const char *id);
/* reason: NULL when the client asked, "revoked" when its user was taken
 * out of the private room (left, removed, banned). */
int ws_protocol_unsubscribed_append(struct evbuffer *out, const char *room, const char *reason);
/* A message event: the message's members with "type" and "room" first. */
int ws_protocol_message_append(struct evbuffer *out, const char *room, const struct message *m);
/* The answer to subscribe_user: {"type":"user_subscribed"}. */
int ws_protocol_user_subscribed_append(struct evbuffer *out);

/* {"type":<kind>, ...data}: an ephemeral signal (typing, presence) whose
 * data (len bytes) is a JSON object naming its room. */
int ws_protocol_signal_append(struct evbuffer *out, const char *kind, const char *data,
                              size_t len);
/* The gap signal (history_gap.h): first is the oldest id kept, "" for none. */
int ws_protocol_gap_append(struct evbuffer *out, const char *room, const char *first);
int ws_protocol_ack_append(struct evbuffer *out, const char *client_msg_id, bool replayed,
                           const struct message *m);
/* An error with the REST API's code; client_msg_id and room (NULL or ""
 * when none) tell which request it answers, retry_after_s (> 0) when to
 * try again. */
int ws_protocol_error_append(struct evbuffer *out, api_error e, const char *message,
                             const char *client_msg_id, const char *room, int retry_after_s);

#endif
