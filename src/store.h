/*
 * store: the only module that knows the Redis key schema (docs/STORAGE.md).
 * Each function is one Redis command on one hash slot, sent through the
 * cluster layer, except the ones marked "Workflow:": those run several
 * commands in turn, on several slots, and are not atomic (each says what a
 * failure part-way leaves behind).
 *
 * Contract (as for cluster): a function that returns -1 never calls its
 * callback; one that returns 0 calls it exactly once, on the loop thread,
 * with a store_status. STORE_UNAVAILABLE means Redis did not answer in time;
 * STORE_ERROR that Redis refused the command; STORE_FULL that it refused a
 * write because its memory is full (nothing of that write was stored).
 *
 * Session reads may be answered from a session cache (session_cache.h)
 * instead of Redis; such answers, too, come later from the loop, never
 * inside the call. Every session the store ends is announced on
 * STORE_CHANNEL_SESSIONS_ENDED before the end is reported.
 */
#ifndef CHAT_STORE_H
#define CHAT_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "member_rules.h"
#include "message.h"

struct cluster;
struct event_base;
struct session_cache;
struct store;

enum store_status {
    STORE_OK,
    STORE_NOT_FOUND,
    STORE_EXISTS,
    STORE_UNAVAILABLE,
    STORE_ERROR,
    STORE_FULL, /* Redis refused a write: its maxmemory is reached (-OOM) */
};

#define STORE_PWHASH_MAX 128 /* crypto_pwhash_STRBYTES */
#define STORE_ROOM_LOBBY "lobby"
#define STORE_DEDUP_TTL 86400 /* seconds a client message id is remembered */
#define STORE_SESSIONS_MAX 100 /* sessions per user; a login beyond ends the oldest */

/* A user record as stored (the password only as its Argon2id hash). */
struct store_user {
    char id[CHAT_USER_ID_LEN + 1];
    char email[CHAT_EMAIL_MAX + 1];
    char name[CHAT_NAME_MAX_BYTES + 1];
    char pwhash[STORE_PWHASH_MAX];
    long long password_version; /* counts password changes; a session of another is refused */
    bool locked;                /* a site administrator locked the account */
};

typedef void store_status_fn(enum store_status st, void *arg);
typedef void store_user_fn(enum store_status st, const struct store_user *u, void *arg);
typedef void store_session_fn(enum store_status st, const struct session_user *u, void *arg);
/* Receives the stored message (its id and fields) on STORE_OK; replayed
 * tells that it was stored earlier under the same client message id. */
typedef void store_message_fn(enum store_status st, const struct message *m, bool replayed,
                              void *arg);
/* Receives up to the requested number of messages, oldest first. */
typedef void store_range_fn(enum store_status st, const struct message *msgs, size_t n,
                            void *arg);

/* A store on the cluster layer. sessions (NULL: none) is the session
 * cache that store_session_get consults and fills; base runs its answers. */
struct store *store_new(struct event_base *base, struct cluster *cluster,
                        struct session_cache *sessions);
/* Runs the callbacks of cached answers still queued, then frees. NULL is fine. */
void store_free(struct store *s);
/* Runs the callbacks of cached session answers still queued now (at
 * shutdown, while their requests can still be answered). */
void store_run_queued(struct store *s);

/* Creates the user unless its e-mail is taken (then STORE_EXISTS), atomically. */
int store_user_create(struct store *s, const struct store_user *u, store_status_fn *cb,
                      void *arg);
/* Looks a user up by normalised e-mail (STORE_NOT_FOUND when unknown). */
int store_user_get(struct store *s, const char *email, store_user_fn *cb, void *arg);

/* Workflow: stores a session under the hash of its token, expiring after
 * ttl seconds, and adds it to its user's session index (first: a session is
 * never stored unindexed; a failure after it leaves an index entry without
 * a session, removed as the entry of an expired one). A user's sessions beyond the
 * newest STORE_SESSIONS_MAX end (deleted and announced) before the callback
 * runs. */
int store_session_create(struct store *s, const char *token_hash, const struct session_user *u,
                         int ttl, store_status_fn *cb, void *arg);
/* Reads a session and pushes its expiry ttl seconds ahead (sliding), then
 * its user's password version: a session made under an older one (a login
 * that raced a password change) is STORE_NOT_FOUND. With a session cache,
 * a live entry young enough answers instead (no Redis command, no
 * sliding); a read from Redis that passed fills the cache. */
int store_session_get(struct store *s, const char *token_hash, int ttl, store_session_fn *cb,
                      void *arg);
/* Workflow: deletes one session, announces its end and removes its index
 * entry (STORE_NOT_FOUND when it did not exist; STORE_UNAVAILABLE when it
 * was deleted but the end could not be announced). */
int store_session_delete(struct store *s, const char *token_hash, store_status_fn *cb,
                         void *arg);
/* Rewrites the session of token_hash for u with the password version
 * version, keeping its lifetime (SET ... KEEPTTL XX): the session that
 * changed the password stays valid. STORE_NOT_FOUND when it ended. */
int store_session_set_version(struct store *s, const char *token_hash,
                              const struct session_user *u, long long version,
                              store_status_fn *cb, void *arg);
/* Workflow: ends every session of a user except keep_hash's: reads the
 * user's index (one command), then for each other session, concurrently,
 * deletes it, announces its end and removes its index entry (three
 * commands; entries of sessions that expired are removed the same way).
 * STORE_OK when all are gone and announced; else, once every session's
 * steps have finished, the status of a failed step, and the sessions it did
 * not end stay (the caller may run it again). */
int store_sessions_end_others(struct store *s, const char *user_id, const char *keep_hash,
                              store_status_fn *cb, void *arg);
/* Ends every session of user_id, as store_sessions_end_others keeping
 * none: each is deleted and its end announced to every chatd, which ends
 * its open streams there (session_streams.h). For a lock, an account's
 * deletion or a server-side "disconnect this user". */
int store_user_sessions_end_all(struct store *s, const char *user_id, store_status_fn *cb,
                                void *arg);
/* Replaces a user's password hash and advances its password version, in
 * one step (durable): sessions made with an older version are refused from
 * then on (store_session_get). */
int store_user_set_password(struct store *s, const char *email, const char *pwhash,
                            store_status_fn *cb, void *arg);

/* Locks (locked) or unlocks the account of email when it is still user_id's
 * (else STORE_NOT_FOUND), in one step (durable, store_lock.c). Locking also
 * advances the password version, so that a session made meanwhile is
 * refused (store_session_get); the sessions are the caller's to end. */
int store_user_set_locked(struct store *s, const char *email, const char *user_id, bool locked,
                          store_status_fn *cb, void *arg);

/* ---- users from an application's token (store_token.c) ---- */

/* Creates the user of u->email (a token user's account handle, see
 * jwt_verify.h) with u->id, u->name and the token's issuer and subject,
 * or, when it exists, sets its name to u->name (one script, durable). The
 * callback gets u with the stored id and password version. */
int store_token_user_upsert(struct store *s, const struct store_user *u, const char *issuer,
                            const char *subject, store_user_fn *cb, void *arg);
/* Records that the token id of token_id_hash (hex) was exchanged, until
 * until_s (seconds since the epoch): STORE_EXISTS when it was already
 * (SET NX EXAT, durable). */
int store_token_use_once(struct store *s, const char *token_id_hash, long long until_s,
                         store_status_fn *cb, void *arg);

/* Workflow: deletes the user record of email if it still belongs to
 * user_id (one script), then the user-id index (another slot); a failure
 * between leaves an index entry naming a free address, which finds no
 * user. Sessions are the caller's to end. */
int store_user_delete(struct store *s, const char *email, const char *user_id,
                      store_status_fn *cb, void *arg);

/* Receives 0 when a rate-limit hit was within the limit, else the ms until
 * the window ends. */
typedef void store_rate_fn(enum store_status st, long long retry_ms, void *arg);
/* Counts one hit on rate:<limit>:<subject>, a fixed window of window_ms
 * that allows count hits (one key, one script, no WAIT). */
int store_rate_hit(struct store *s, const char *limit, const char *subject, int count,
                   long long window_ms, store_rate_fn *cb, void *arg);

/* Receives whether the address logged in to the account before. */
typedef void store_known_fn(enum store_status st, bool known, void *arg);
/* Whether address (a client address as the limits count it) logged in to
 * the account of email within the ttl given when it was remembered. */
int store_login_known(struct store *s, const char *email, const char *address,
                      store_known_fn *cb, void *arg);
/* Remembers for ttl_s seconds that address logged in to email's account. */
int store_login_remember(struct store *s, const char *email, const char *address, int ttl_s,
                         store_status_fn *cb, void *arg);

/* Characters of the text a reply quotes. */
#define STORE_QUOTE_CHARS 100

/* Appends m (its id is ignored) to the room's stream; the callback gets the
 * message with the id Redis gave it. With a client_msg_id (may be NULL), a
 * repeat by the same user within STORE_DEDUP_TTL returns the first message
 * instead of adding another. Durable: acknowledged after replicas have it.
 * A reply (m->reply_to) keeps a quote of the message it answers, taken in
 * the same script (its author's name and the first STORE_QUOTE_CHARS
 * characters of its latest text): STORE_NOT_FOUND when the room's stream
 * holds no such message (a room event is none). */
int store_message_append(struct store *s, const char *room, const struct message *m,
                         const char *client_msg_id, store_message_fn *cb, void *arg);
/* The server's retention (store_retention.c), for every room without its
 * own (room:{<room>}:retention, docs/STORAGE.md): an append trims the
 * room's stream to about max_messages entries (0: no limit) and drops
 * entries older than max_age_s seconds (0: no limit). Both trims are
 * approximate (~): Redis removes whole nodes of the stream only, so a room
 * keeps at least that much, and a little more at times. */
void store_set_retention(struct store *s, int max_messages, int max_age_s);

/* What a room's stream still holds, for the gap signal: trimmed tells
 * whether entries were ever removed from it; first is the oldest id kept
 * ("" for an empty stream), deleted the newest id ever removed by XDEL
 * ("0-0": none). */
struct store_retained {
    bool trimmed;
    char first[CHAT_STREAM_ID_MAX + 1];
    char deleted[CHAT_STREAM_ID_MAX + 1];
};
typedef void store_retained_fn(enum store_status st, const struct store_retained *kept,
                               void *arg);
/* Reads what the room's stream still holds (XINFO STREAM: O(1)); a room
 * without messages holds everything (not trimmed). */
int store_room_retained(struct store *s, const char *room, store_retained_fn *cb, void *arg);

/* Reads up to count messages of a room with ids greater than after (NULL:
 * from the start). */
int store_history_range(struct store *s, const char *room, const char *after, int count,
                        store_range_fn *cb, void *arg);
/* Reads up to count messages of a room with ids less than before, and hands
 * them over oldest first (the page just before `before`). */
int store_history_before(struct store *s, const char *room, const char *before, int count,
                         store_range_fn *cb, void *arg);

/* Who reads a history page: its messages then carry their reactions
 * (message.h), with the ones of user_id (NULL or "": an anonymous reader,
 * none of its own). */
struct store_reader {
    const char *user_id;
};
/* A history page: as store_history_range (before NULL) or
 * store_history_before (before not NULL), and for a reader (NULL: none,
 * as live streams read, without reactions) with its messages' reactions,
 * read in the same HMGET as their edits. */
int store_history_page(struct store *s, const char *room, const struct store_reader *reader,
                       const char *after, const char *before, int count, store_range_fn *cb,
                       void *arg);

/* The room's newest message (none for an empty room). */
int store_room_latest(struct store *s, const char *room, store_range_fn *cb, void *arg);

/* ---- rooms (store_rooms.c) ---- */

#define STORE_ROOMS_CHECK_MAX 32 /* rooms store_rooms_exist checks at once */

/* Registers a room name in the room list (STORE_EXISTS when it was there). */
int store_room_add(struct store *s, const char *room, store_status_fn *cb, void *arg);
/* Receives the registered room names. */
typedef void store_names_fn(enum store_status st, const char *const *names, size_t n, void *arg);
/* Reads up to count registered room names greater than after (NULL: from
 * the first), in byte order (strcmp). */
int store_room_list(struct store *s, const char *after, int count, store_names_fn *cb,
                    void *arg);
/* STORE_OK when every one of the n (1 to STORE_ROOMS_CHECK_MAX) rooms is in
 * the room list, STORE_NOT_FOUND when one is not (one command). */
int store_rooms_exist(struct store *s, const char *const *rooms, size_t n, store_status_fn *cb,
                      void *arg);
/* Receives a counter's new value. */
typedef void store_count_fn(enum store_status st, long long count, void *arg);
/* Adds delta to the count of rooms the user created and hands back the sum. */
int store_user_rooms_add(struct store *s, const char *user_id, int delta, store_count_fn *cb,
                         void *arg);

/* ---- members (store_members.c) ---- */

/* A room's kind and two users' standings in it. */
struct store_access {
    enum room_kind kind;
    enum member_role actor;  /* the asking user's (ROLE_NONE without one) */
    enum member_role target; /* the user acted on (ROLE_NONE without one) */
};
typedef void store_access_fn(enum store_status st, const struct store_access *a, void *arg);
/* Reads the room's kind and the standings of actor_id and target_id (each
 * may be NULL) in one command on the room's slot: HMGET of its members.
 * A room without a kind there is public when it is the lobby or in the
 * room list (rooms created before members existed: a second command);
 * else STORE_NOT_FOUND. */
int store_room_access(struct store *s, const char *room, const char *actor_id,
                      const char *target_id, store_access_fn *cb, void *arg);

/* Receives the room's kind and the caller's role in it: STORE_OK when the
 * call created it (the caller owns it), STORE_EXISTS when it existed. */
typedef void store_created_fn(enum store_status st, enum room_kind kind, enum member_role role,
                              void *arg);
/* Gives the room its kind and owner unless it has a kind already (one
 * script on the room's slot, durable). */
int store_room_create(struct store *s, const char *room, enum room_kind kind,
                      const char *owner_id, const char *owner_name, store_created_fn *cb,
                      void *arg);

/* Makes the direct room of the users ids[0] and ids[1], or finds it, and
 * makes both its members again, recording their names (one script on the
 * room's slot, durable): STORE_OK when it was created, STORE_EXISTS when
 * it was there. */
int store_direct_create(struct store *s, const char *room, const char *const ids[2],
                        const char *const names[2], store_status_fn *cb, void *arg);

/* One membership change, decided by member_rules_decide on the standings
 * actor and target that store_room_access read. */
struct store_member_change {
    const char *room;
    enum room_kind kind;
    const char *actor_id, *actor_name;
    enum member_role actor;
    const char *target_id, *target_name; /* the actor's for a join or a leave */
    enum member_role target;
    enum member_role role;  /* the target's standing after it (ROLE_NONE: gone) */
    const char *event;      /* the room event that records it */
    bool needs_other_owner; /* refused unless another owner remains */
    long long timestamp;    /* ms since the epoch */
};
enum store_change {
    STORE_CHANGE_DONE,       /* applied and recorded (event id given) */
    STORE_CHANGE_ALREADY,    /* the target stood so already: nothing done */
    STORE_CHANGE_CONFLICT,   /* a standing changed since it was read: nothing done */
    STORE_CHANGE_LAST_OWNER, /* it would leave no owner: nothing done */
    STORE_CHANGE_NOT_A_MESSAGE, /* store_message_remove: the id is a room event */
    STORE_CHANGE_TOO_MANY,      /* store_message_react: the message has enough emoji */
};
typedef void store_change_fn(enum store_status st, enum store_change outcome,
                             const char *event_id, void *arg);
/* Applies c atomically in the room's slot if both standings are still
 * those read, and appends its event to the room's stream (durable; then
 * rings the room's doorbell). */
int store_member_change(struct store *s, const struct store_member_change *c,
                        store_change_fn *cb, void *arg);

/* The text of the tombstone that takes a removed message's place: a
 * moderator's removal of another's message, any deletion by its author. */
#define STORE_TOMBSTONE_TEXT "removed by a moderator"
#define STORE_TOMBSTONE_OWN_TEXT "deleted by its author"

/* A moderator's removal of one message, decided on the actor's standing
 * that store_room_access read, or (own) an author's deletion of their own. */
struct store_message_removal {
    const char *room;
    const char *message_id;
    const char *actor_id, *actor_name;
    enum member_role actor;
    long long timestamp; /* ms since the epoch */
    bool own;            /* only if the actor wrote it, whatever their role */
};
/* Deletes the message from the room's stream (XDEL: its text is gone from
 * Redis) with its edits, and appends a tombstone event ("message_removed",
 * target: the message's id) in one script on the room's slot, if the
 * actor's role is still the one read, or for own, if the actor wrote it
 * (durable; then rings the doorbell). STORE_NOT_FOUND when the stream
 * holds no such entry (also when removed already); STORE_CHANGE_CONFLICT
 * when the role changed, or for own when it is another's. */
int store_message_remove(struct store *s, const struct store_message_removal *m,
                         store_change_fn *cb, void *arg);

/* An author's edit of their own message. */
struct store_message_edit {
    const char *room;
    const char *message_id;
    const char *author_id, *author_name;
    const char *text; /* text_len bytes, validated */
    size_t text_len;
    long long timestamp; /* ms since the epoch */
};
/* Keeps the new text as the message's latest (room:{<room>}:edits) and
 * appends an "edited" event (target: the message's id, text: the new
 * text) in one script on the room's slot (durable; then rings the
 * doorbell). The original entry keeps its first text. STORE_NOT_FOUND
 * when the stream holds no such entry (also once removed);
 * STORE_CHANGE_NOT_A_MESSAGE for a room event, STORE_CHANGE_CONFLICT
 * when the message is another user's. */
int store_message_edit(struct store *s, const struct store_message_edit *m,
                       store_change_fn *cb, void *arg);

/* Different emoji one message may carry (a reaction with another is refused). */
#define STORE_REACTIONS_MAX 20

/* A user's reaction to a message, added or taken back. */
struct store_reaction {
    const char *room;
    const char *message_id;
    const char *user_id, *user_name;
    const char *emoji; /* valid (emoji.h): no white space */
    bool add;          /* false: take it back */
    long long timestamp; /* ms since the epoch */
};
/* Records the reaction (or its removal) and appends a "reaction" event
 * (target: the message's id, text: the emoji, action: "added" or
 * "removed") in one script on the room's slot (store_reactions.c,
 * durable; then rings the doorbell). STORE_NOT_FOUND when the stream
 * holds no such entry (also once removed); STORE_CHANGE_NOT_A_MESSAGE for
 * a room event; STORE_CHANGE_ALREADY when the user's reaction stood so
 * already (nothing recorded); STORE_CHANGE_TOO_MANY when the message
 * carries STORE_REACTIONS_MAX different emoji and this is another. */
int store_message_react(struct store *s, const struct store_reaction *m, store_change_fn *cb,
                        void *arg);

/* Receives n field/value pairs: fields[2i] and fields[2i + 1]. */
typedef void store_pairs_fn(enum store_status st, const char *const *fields, size_t n,
                            void *arg);
/* The room's members, in one script on its slot: n triples of user id,
 * role and display name ("" when none was recorded) in fields[3i],
 * fields[3i + 1] and fields[3i + 2]. */
int store_room_members(struct store *s, const char *room, store_pairs_fn *cb, void *arg);
/* The user's rooms: room name and "<kind>:<role>" pairs. */
int store_user_memberships(struct store *s, const char *user_id, store_pairs_fn *cb,
                           void *arg);
/* Records (or, for a role below ROLE_MEMBER, drops) room in the user's
 * rooms, durable. */
int store_user_membership_set(struct store *s, const char *user_id, const char *room,
                              enum room_kind kind, enum member_role role, store_status_fn *cb,
                              void *arg);
/* Remembers the e-mail of a user id (user-id:<id>), durable. */
int store_user_id_index(struct store *s, const char *user_id, const char *email,
                        store_status_fn *cb, void *arg);
/* Receives a string (NULL unless STORE_OK). */
typedef void store_text_fn(enum store_status st, const char *text, void *arg);
/* The e-mail of a user id (STORE_NOT_FOUND when unknown). */
int store_user_email_of(struct store *s, const char *user_id, store_text_fn *cb, void *arg);

/* ---- read markers and unread counts (store_markers.c) ---- */

#define STORE_USER_EVENTS_KEEP 100 /* a user's events kept, about (MAXLEN ~) */

/* Receives the user's marker of the room after the call: the id given
 * when it moved forward (moved), else the one stored, not older. */
typedef void store_marker_fn(enum store_status st, bool moved, const char *marker, void *arg);
/* Moves the user's read marker of room forward to id (a message id as
 * "<ms>-<seq>", digits without leading zeros); an id not after the marker
 * changes nothing. When it moves, a "marker" event (target: the room,
 * text: the id) goes to the user's events, in the same script on the
 * user's slot (durable; then rings the user's doorbell). */
int store_marker_set(struct store *s, const char *user_id, const char *room, const char *id,
                     long long timestamp, store_marker_fn *cb, void *arg);
/* The user's markers: room and id pairs (one HGETALL). */
int store_markers_get(struct store *s, const char *user_id, store_pairs_fn *cb, void *arg);

/* One room of store_unread_counts: its name and marker (NULL: none, all
 * its messages count); count gets the answer. */
struct store_unread {
    const char *room;
    const char *after;
    int count;
};
/* Workflow: counts for each of the n (1 or more) rooms the messages after
 * its marker that user_id did not write, up to cap (room events are not
 * messages): each room's newest id (XREVRANGE ... COUNT 1 on its slot),
 * all sent at once, then, only for the rooms with entries after the
 * marker, a counting script on the room's slot, sent as those replies
 * come: two round trips per master at most, never one per room in
 * sequence. The callback gets STORE_OK when every count came (else the
 * first failure); rooms must live until it runs. */
int store_unread_counts(struct store *s, const char *user_id, struct store_unread *rooms,
                        size_t n, int cap, store_status_fn *cb, void *arg);

/* ---- the announcements of ended sessions: a subscription, not a command ---- */

struct store_subscription;
/* What a subscription reports: STORE_OK without a payload once it is
 * confirmed, STORE_OK with each announcement's payload (len bytes, valid
 * during the call), and last STORE_UNAVAILABLE once when it ended (lost,
 * refused, or freed). Free an ended subscription after the callback
 * returned, never inside it. */
typedef void store_announce_fn(struct store_subscription *sub, enum store_status st,
                               const char *payload, size_t len, void *arg);
/* Subscribes to the announcements of ended sessions (every chatd's, see
 * store_session_delete) on a connection of its own to the node-th node,
 * counting round, of those the cluster layer knows (any node: Redis
 * Cluster carries a PUBLISH to the subscribers of every node). NULL when it
 * cannot start (cb never runs). */
struct store_subscription *store_sessions_ended_subscribe(struct store *s, unsigned node,
                                                          store_announce_fn *cb, void *arg);
/* Closes the subscription (reporting its end first if it had not ended). NULL is fine. */
void store_subscription_free(struct store_subscription *sub);
/* The node it is on ("host:port"), for logs. */
const char *store_subscription_node(const struct store_subscription *sub);

/* Whether every slot has a master and every master's connection is up: a
 * local answer at once (no command, no callback). */
bool store_is_ready_now(const struct store *s);
/* Whether Redis refuses writes for memory now (the last durable write was
 * refused with -OOM): a local answer at once. */
bool store_is_full_now(const struct store *s);
/* CLUSTER INFO through the layer: STORE_OK when the cluster's state is ok
 * (or Redis is standalone and answers), else STORE_UNAVAILABLE. */
int store_ready(struct store *s, store_status_fn *cb, void *arg);
/* PING through the layer: STORE_OK when Redis answers. */
int store_ping(struct store *s, store_status_fn *cb, void *arg);

/* ---- the server API (store_api.c) ---- */

/* The stored hash of the secret of the API key key_id (STORE_NOT_FOUND
 * when there is no such key, or it was revoked): one HGET, never cached,
 * so that a revocation holds on every chatd at once. */
int store_apikey_hash(struct store *s, const char *key_id, store_text_fn *cb, void *arg);

/* A room's counts. */
struct store_counts {
    long long entries; /* entries of its stream: messages, room events, tombstones */
    long long members; /* members of every role */
    long long banned;  /* banned users */
    long long online;  /* users online as of the room's last presence batch
                        * (store_presence.h; not pruned here) */
};
typedef void store_counts_fn(enum store_status st, const struct store_counts *c, void *arg);
/* Reads the room's counts in one script on its slot (XLEN, the members,
 * ZCARD of the users online). */
int store_room_counts(struct store *s, const char *room, store_counts_fn *cb, void *arg);

/* The user's sessions, oldest first: n pairs of a session's hash and its
 * login time (ms since the epoch) in fields[2i] and fields[2i + 1] (one
 * ZRANGE of user-sessions:<userId>; entries of expired sessions may
 * remain until the user's next login or password change). */
int store_user_sessions(struct store *s, const char *user_id, store_pairs_fn *cb, void *arg);

/* Workflow: the user of an id: its e-mail from the user-id index (one
 * command), then its record (another slot), which must still have that
 * id (else STORE_NOT_FOUND: the account was deleted and its address may
 * be another's now). */
int store_user_get_by_id(struct store *s, const char *user_id, store_user_fn *cb, void *arg);

/* ---- the webhook queue (store_webhook.c) ---- */

#define STORE_WEBHOOK_GROUP "chatd-webhooks"
#define STORE_WEBHOOK_BATCH 128 /* entry ids per touch or acknowledgement */

/* One queued delivery: an event for one URL (strings valid in the callback). */
struct store_webhook_entry {
    const char *stream_id; /* its id in the shard's stream */
    const char *event_id;  /* the event's id (the same for every URL) */
    const char *url;       /* where to POST it */
    const char *body;      /* the event's JSON, body_len bytes */
    size_t body_len;
};
/* Receives entries of a shard; cursor (XAUTOCLAIM's next start, else
 * NULL) says where a claim goes on. */
typedef void store_webhook_entries_fn(enum store_status st,
                                      const struct store_webhook_entry *entries, size_t n,
                                      const char *cursor, void *arg);

/* Appends a delivery of event_id's body to url to shard n (durable). */
int store_webhook_enqueue(struct store *s, unsigned shard, const char *event_id, const char *url,
                          const char *body, size_t body_len, store_status_fn *cb, void *arg);
/* Creates the shard's consumer group (and stream) from its start:
 * STORE_EXISTS when it was there. */
int store_webhook_group_create(struct store *s, unsigned shard, store_status_fn *cb, void *arg);
/* Takes up to count entries nobody took yet for consumer (XREADGROUP,
 * never blocking): STORE_NOT_FOUND when the group is missing. */
int store_webhook_read(struct store *s, unsigned shard, const char *consumer, int count,
                       store_webhook_entries_fn *cb, void *arg);
/* Takes over up to count entries idle for min_idle_ms or more from
 * cursor on ("0-0": the start) for consumer (XAUTOCLAIM). */
int store_webhook_claim(struct store *s, unsigned shard, const char *consumer, int min_idle_ms,
                        const char *cursor, int count, store_webhook_entries_fn *cb, void *arg);
/* Tells that consumer still tends the n (1 to STORE_WEBHOOK_BATCH)
 * entries ids (their idle time restarts; XCLAIM ... JUSTID, which does
 * not count a delivery). */
int store_webhook_touch(struct store *s, unsigned shard, const char *consumer,
                        const char *const *ids, size_t n, store_status_fn *cb, void *arg);
/* Acknowledges and deletes the n (1 to STORE_WEBHOOK_BATCH) entries ids
 * delivered (one script). */
int store_webhook_ack(struct store *s, unsigned shard, const char *const *ids, size_t n,
                      store_status_fn *cb, void *arg);
/* Moves an entry that failed every attempt to the shard's dead letters
 * with the reason, and acknowledges it (one script, durable). */
int store_webhook_bury(struct store *s, unsigned shard, const struct store_webhook_entry *e,
                       const char *reason, store_status_fn *cb, void *arg);
/* Receives a count. */
typedef void store_webhook_count_fn(enum store_status st, long long count, void *arg);
/* The shard's entries not acknowledged yet: queued and in delivery (XLEN,
 * entries leave when acknowledged). */
int store_webhook_length(struct store *s, unsigned shard, store_webhook_count_fn *cb,
                         void *arg);

#endif
