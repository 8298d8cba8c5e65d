/*
 * member_rules: who may do what in a room (pure, no I/O). A room is public
 * or private; a user's standing in it is none, banned, member, moderator
 * or owner. For each membership action and the two standings as read from
 * the room's members, it decides the answer: an error, nothing to do, or
 * the target's new standing and the event that records it. The store then
 * applies the change only if both standings are still what was read
 * (store_member_change), so the decision holds atomically.
 */
#ifndef CHAT_MEMBER_RULES_H
#define CHAT_MEMBER_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "errors.h"
#include "message.h"

/* Public rooms are read by anyone; private and direct ones by their
 * members only. A direct room (a conversation of two, POST /dm/) has no
 * owner: its two members cannot invite, remove, ban or give roles. */
enum room_kind { ROOM_PUBLIC, ROOM_PRIVATE, ROOM_DIRECT };

/* A user's standing in a room, weakest first (the order is the rank). */
enum member_role {
    ROLE_NONE,
    ROLE_BANNED,
    ROLE_MEMBER,
    ROLE_MODERATOR,
    ROLE_OWNER,
};

enum member_action {
    MEMBER_JOIN,   /* the actor joins a public room */
    MEMBER_INVITE, /* the actor adds the target (a moderator or owner) */
    MEMBER_LEAVE,  /* the actor leaves */
    MEMBER_REMOVE, /* the actor removes the target, or lifts its ban */
    MEMBER_BAN,    /* the actor bans the target */
    MEMBER_SET_ROLE, /* an owner makes the target owner, moderator or member */
};

/* What an action comes to. */
struct member_verdict {
    api_error error;         /* API_E_OK, else the answer */
    bool noop;               /* nothing to change (done already): answer as done */
    enum member_role role;   /* the target's standing after the change */
    const char *event;       /* the room event recording it ("joined", ...) */
    bool needs_other_owner;  /* refuse unless another owner remains */
};

/* The decision for action by an actor of standing actor on a target of
 * standing target (the same user for join and leave; role is the wanted
 * role of MEMBER_SET_ROLE, else ignored). A non-member of a private room
 * always gets API_E_NOT_FOUND: it learns nothing of the room. */
struct member_verdict member_rules_decide(enum room_kind kind, enum member_action action,
                                          enum member_role actor, enum member_role target,
                                          enum member_role role);

/* Whether a user of that standing reads the room (history, streams). */
bool member_rules_can_read(enum room_kind kind, enum member_role role);
/* The answer to a send by a logged-in user of that standing: API_E_OK,
 * API_E_NOT_FOUND (not a member of a private room), or API_E_BANNED. */
api_error member_rules_send_error(enum room_kind kind, enum member_role role);

/* The answer to a moderator's removal of a message by a user of that
 * standing: API_E_OK for moderators and owners, API_E_NOT_FOUND for a
 * non-member of a private room, else API_E_FORBIDDEN. */
api_error member_rules_remove_message_error(enum room_kind kind, enum member_role role);

/* Whether m is the room event that ends user_id's membership (left,
 * removed, banned): every open stream of that user in a private room ends
 * at it. */
bool member_rules_revokes(const struct message *m, const char *user_id);
/* How many of msgs[0..n) a stream of user_id in a private room sends: all,
 * or up to and including the first event that revokes its membership. */
size_t member_rules_kept(const struct message *msgs, size_t n, const char *user_id);

/* Whether email (normalised) is one of admins, a comma-separated list of
 * addresses (compared without case; spaces around them are ignored). A
 * site administrator acts in every room as its owner would. */
bool member_rules_is_admin(const char *admins, const char *email);

/* The room of the direct conversation of users a and b (32 hex digits
 * each), the same whichever is a: "dm-" and 40 hex digits of the SHA-256
 * of the two ids in order, a valid room name. */
#define MEMBER_DIRECT_NAME_LEN 43
void member_rules_direct_name(const char *a, const char *b, char out[MEMBER_DIRECT_NAME_LEN + 1]);

/* Names as stored and shown: "owner", "moderator", "member", "banned"
 * ("" for none); "public", "private", "direct". */
const char *member_role_name(enum member_role role);
const char *room_kind_name(enum room_kind kind);
/* Parses a stored or requested name (NULL or unknown: ROLE_NONE, -1 for kinds). */
enum member_role member_role_parse(const char *name);
int room_kind_parse(const char *name, enum room_kind *kind);

#endif
