/*
 * presence: which users this chatd has streams for, per room, kept in
 * Redis for every chatd to see (store_presence.h). A user's first stream
 * in a room (event stream, multi-room stream, WebSocket subscription)
 * marks a join, its last one closing a leave; the changes of each room go
 * to Redis together, one script per room, within PRESENCE_FLUSH_MS. Every
 * ttl / 3 the entries of every user with a stream here are renewed, in one
 * script per room and up to PRESENCE_BATCH_MAX users, pipelined on the
 * connection of each master; an entry not renewed for ttl ms (its chatd
 * vanished) is pruned by the next script of any chatd in that room, or by
 * a read of the room's presence.
 */
#ifndef CHAT_PRESENCE_H
#define CHAT_PRESENCE_H

struct event_base;
struct store;
struct presence;

#define PRESENCE_FLUSH_MS 100  /* joins and leaves wait this long at most */
#define PRESENCE_BATCH_MAX 500 /* users per script at most */

/* Entries expire ttl_ms after their last renewal; NULL when out of
 * memory. */
struct presence *presence_new(struct event_base *base, struct store *store, int ttl_ms);
/* Frees p: what it had in Redis expires by itself. NULL is fine. */
void presence_free(struct presence *p);

/* One more stream of the user (id, name) in room. */
void presence_enter(struct presence *p, const char *room, const char *user_id, const char *name);
/* One stream fewer (a presence_enter's counterpart). */
void presence_leave(struct presence *p, const char *room, const char *user_id);

#endif
