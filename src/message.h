/*
 * message: the in-memory view of one chat message and of a logged-in user's
 * session, shared by the store (which reads and writes them) and json (which
 * encodes them). Strings point into storage owned by someone else.
 */
#ifndef CHAT_MESSAGE_H
#define CHAT_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "validate.h"

#define CHAT_USER_ID_LEN 32 /* 16 random bytes in hex */
/* Bytes of a session's room list, "<room>,<room>..." and its NUL: what a
 * token's "rooms" claim may name (jwt_verify.h). */
#define CHAT_SESSION_ROOMS_MAX 256

/* One message as stored in a room's stream. */
struct message {
    const char *id;      /* stream id "<ms>-<seq>" */
    const char *user_id; /* author's id */
    const char *name;    /* author's display name */
    const char *text;    /* UTF-8 text, text_len bytes (not NUL-terminated) */
    size_t text_len;
    long long timestamp; /* server receive time, ms since the epoch */
    long long edited;    /* history pages: when text became its latest edit (ms), 0 if never */
    /* A room event (docs/API.md, "Room events") instead of a message: its
     * kind ("joined", "removed", ...), the user it is about and that
     * user's role after it ("" for none); NULL for a message. The author
     * fields are then the actor's, the text the target's name. */
    const char *event;
    const char *target;
    const char *role;
    /* A "reaction" event's change: "added" or "removed" (the emoji is its
     * text); NULL otherwise. */
    const char *action;
    /* A reply: the id of the message it answers and a quote of it taken
     * when it was sent (its author's name and its first characters);
     * NULL when the message answers none. */
    const char *reply_to;
    const char *quote_name;
    const char *quote_text; /* quote_len bytes (not NUL-terminated) */
    size_t quote_len;
    /* History pages: the message's reactions, "<emoji> <count>" pairs
     * separated by spaces (reactions_len bytes), and the emoji the reader
     * reacted with, separated by spaces (mine_len bytes); NULL when none
     * were read. */
    const char *reactions;
    size_t reactions_len;
    const char *mine;
    size_t mine_len;
};

/* The user behind a session, copied out of Redis. */
struct session_user {
    char id[CHAT_USER_ID_LEN + 1];
    char email[CHAT_EMAIL_MAX + 1];
    char name[CHAT_NAME_MAX_BYTES + 1];
    long long password_version; /* the user's password version at login (stored sessions) */
    long long expires_ms;       /* the session ends then whatever its TTL (0: only the TTL) */
    bool rooms_limited;         /* only the rooms in rooms may be written to */
    char rooms[CHAT_SESSION_ROOMS_MAX]; /* "<room>,<room>...", "" for none, when limited */
};

#endif
