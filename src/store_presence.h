/*
 * store_presence: the ephemeral state of a room in Redis. Signals (typing,
 * presence, ephemeral.h) are published on the room's doorbell channel, so
 * they reach every chatd that follows the room on the subscriber
 * connection it has anyway, and are kept nowhere. Presence is kept in the
 * room's slot (store_keys.h): one entry per chatd node and user, scored by
 * its expiry, which each chatd renews for the users it has streams for;
 * a per-user count of entries; the users online (a sorted set by id, so
 * that the list pages by id and the count is one ZCARD) and their names.
 * One script per room applies a batch (joins, leaves, renewals), prunes
 * expired entries, and publishes the resulting joins and leaves as one
 * presence signal.
 *
 * Contract (as store.h): -1 and the callback never runs, or 0 and it runs
 * exactly once, later.
 */
#ifndef CHAT_STORE_PRESENCE_H
#define CHAT_STORE_PRESENCE_H

#include <stddef.h>

#include "store.h"

/* Publishes "<kind> <json>" (ephemeral.h) on room's channel. */
int store_signal_publish(struct store *s, const char *room, const char *payload, size_t len,
                         store_status_fn *cb, void *arg);

/* One batch of a chatd's presence changes in one room. */
struct store_presence_batch {
    const char *room;
    const char *node;       /* the chatd's node id (hex) */
    long long expires_ms;   /* wall-clock ms at which these entries expire unless renewed */
    long long ttl_ms;       /* the keys' lifetime after the last batch: 2 x this */
    const char *const *present; /* user id, name, user id, name, ...: joins and renewals */
    size_t npresent;        /* pairs in present */
    const char *const *gone;    /* user ids whose last stream here closed */
    size_t ngone;
};

/* Receives the room's count of users online after the batch. */
int store_presence_update(struct store *s, const struct store_presence_batch *b,
                          store_count_fn *cb, void *arg);

/* One page of the users online, in id order: count (all of them) and
 * pairs of user id and name. */
struct store_presence_page {
    long long count;
    const char *const *pairs; /* id, name, id, name... */
    size_t npairs;
};
typedef void store_presence_page_fn(enum store_status st, const struct store_presence_page *p,
                                    void *arg);

/* Prunes expired entries (publishing the leaves), then reads the count and
 * up to limit users whose ids come after after ("" for the first page). */
int store_presence_read(struct store *s, const char *room, const char *after, int limit,
                        store_presence_page_fn *cb, void *arg);

#endif
