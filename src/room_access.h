/*
 * room_access: the one access rule of every path about a room (history,
 * scroll-back, long-poll, the event streams, send, the member routes): it
 * reads the request's session (when there is one, or when it is needed)
 * and the room's kind and the caller's standing in one command on the
 * room's slot (store_room_access), and decides. A private room is answered
 * 404 not_found to everyone but its members, exactly as a room that does
 * not exist: nobody learns of it by asking. The lobby is public and never
 * asked about: its paths skip this module altogether.
 */
#ifndef CHAT_ROOM_ACCESS_H
#define CHAT_ROOM_ACCESS_H

#include <stdbool.h>

#include "errors.h"
#include "member_rules.h"
#include "message.h"
#include "store.h"
#include "stream_rooms.h"
#include "token.h"

struct request;
struct server;

enum room_access_need {
    ROOM_ACCESS_READ,   /* anyone for a public room, members for a private one */
    ROOM_ACCESS_SEND,   /* a session (else 401); not banned; members of a private room */
    ROOM_ACCESS_MEMBER, /* a session (else 401); the verdict is the caller's (member_rules) */
};

/* What the check found. */
struct room_access {
    api_error error;          /* API_E_OK, else the answer to give */
    enum room_kind kind;
    enum member_role role;    /* the caller's standing (ROLE_NONE anonymous) */
    enum member_role target;  /* the standing of target_id (ROLE_NONE without one) */
    bool has_user;            /* a valid session came with the request */
    struct session_user user; /* its user, when has_user */
    bool admin;               /* that user is a site administrator (--admins) */
};

/* The standing a decision uses: an owner's for a site administrator, else
 * the caller's own (as stored). */
enum member_role room_access_effective(const struct room_access *a);
/* Runs once, later, on the loop; a is valid during the call. */
typedef void room_access_fn(const struct room_access *a, void *arg);

/* The answer to a send into room by user u (read from its session), from
 * store_room_access's st and a: the POST path's and the WebSocket's rule
 * (member_rules_send_error, a site administrator as an owner). */
api_error room_access_send_error(const struct server *srv, enum store_status st,
                                 const struct store_access *a, const struct session_user *u);

/* The hash of r's session token, when it has one (a reader may have none). */
bool room_access_session_hash(struct request *r, char hash[TOKEN_HASH_LEN + 1]);

/* Checks the access to room (never the lobby) of the user of session_hash
 * for need (NULL: anonymous, only for ROOM_ACCESS_READ), on srv (a request's
 * or a WebSocket's); target_id (may be NULL) is a user whose standing is
 * read in the same command. 0, or -1 when nothing could be sent (cb never
 * runs; answer 503). */
int room_access_check(struct server *srv, const char *room, enum room_access_need need,
                      const char *session_hash, const char *target_id, room_access_fn *cb,
                      void *arg);

/* What a check of several rooms found (ROOM_ACCESS_READ of each). */
struct room_access_many {
    api_error error;                        /* API_E_OK when every room may be read */
    enum room_kind kinds[STREAM_ROOMS_MAX]; /* each room's, in the order asked */
    bool has_user;
    struct session_user user;
    bool admin;                             /* a site administrator: reads every room */
};
typedef void room_access_many_fn(const struct room_access_many *a, void *arg);
/* Checks that r may read each of rooms[0..n) (1 to STREAM_ROOMS_MAX, none
 * the lobby; they must live until cb): the session once, then one command
 * per room, all sent at once (one round trip). 0, or -1 (cb never runs);
 * when no command could be sent at all, cb runs before it returns. */
int room_access_check_many(struct request *r, const char *const *rooms, int n,
                           const char *session_hash, room_access_many_fn *cb, void *arg);

#endif
