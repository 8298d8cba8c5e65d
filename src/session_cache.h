/*
 * session_cache: a bounded, in-process copy of sessions read from Redis, so
 * that an authenticated request can skip the session read. Redis stays the
 * only authority: an entry answers only while it is younger than the
 * maximum age, and only while the cache is live, that is while this chatd's
 * subscription to the "sessions ended" channel is confirmed
 * (session_events.c). Every ended session is forgotten when its message
 * arrives; losing the subscription flushes everything.
 *
 * A pure data structure (no I/O, no clock: callers pass the time), used by
 * the loop thread only. Keys are session token hashes (64 lower-case hex
 * digits, the <h> of session:<h>); anything else is never stored.
 *
 * Races. A session read sent before a session ended may be answered after
 * the end was announced. So every change that can make a read's answer
 * stale (an invalidation, a flush, going live) advances the epoch, and a
 * read's answer is stored only when the epoch is still the one it was sent
 * under (session_cache_fill).
 *
 * Every function accepts a NULL cache (the cache is off): nothing is found,
 * nothing stored.
 */
#ifndef CHAT_SESSION_CACHE_H
#define CHAT_SESSION_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "message.h"

#define SESSION_CACHE_HASH_LEN 64 /* hex digits of a session token hash */

struct session_cache;

/* Counters for /metrics and tests. */
struct session_cache_stats {
    unsigned long long hits;          /* lookups answered from the cache */
    unsigned long long misses;        /* lookups that go to Redis (absent, too old, not live) */
    unsigned long long invalidations; /* session hashes received as ended */
    unsigned long long flushes;       /* times every entry was dropped */
    size_t entries;                   /* entries held now */
};

/* A cache of at most capacity entries (>= 1), each answering for max_age_ms
 * after it was fetched. Starts not live. NULL when out of memory. */
struct session_cache *session_cache_new(size_t capacity, long long max_age_ms);
/* Frees the cache and its entries. NULL is fine. */
void session_cache_free(struct session_cache *c);

/* Live: lookups may be answered and reads stored. Either change drops
 * every entry and advances the epoch; going from live to not live counts
 * as a flush. */
void session_cache_set_live(struct session_cache *c, bool live);
bool session_cache_is_live(const struct session_cache *c);

/* Copies the user of hash into out and returns true when the cache is live
 * and holds an entry fetched less than max_age_ms before now_ms. An entry
 * too old is dropped. Counts a hit or a miss. */
bool session_cache_lookup(struct session_cache *c, const char *hash, long long now_ms,
                          struct session_user *out);

/* The epoch to pass to session_cache_fill for a read sent now. */
unsigned long long session_cache_epoch(const struct session_cache *c);

/* Stores what a session read answered (fetched_ms: when the read was sent),
 * replacing an older entry of the same hash; when full, the oldest entry
 * goes. Nothing is stored unless the cache is live and still at epoch. */
void session_cache_fill(struct session_cache *c, const char *hash, const struct session_user *u,
                        long long fetched_ms, unsigned long long epoch);

/* Drops hash's entry (the session ended or is gone) and advances the epoch. */
void session_cache_forget(struct session_cache *c, const char *hash);

/* Drops hash's entry (a read found no such session), the epoch unchanged. */
void session_cache_remove(struct session_cache *c, const char *hash);

/* Drops every entry and advances the epoch. */
void session_cache_flush(struct session_cache *c);

/* Applies one "sessions ended" message: hashes separated by single spaces,
 * each forgotten and counted. A message that is not such a list flushes the
 * whole cache instead (what it meant cannot be known). Returns the number
 * of hashes applied, or -1 when it flushed. */
int session_cache_apply_message(struct session_cache *c, const char *msg, size_t len);

/* Counters, with entries filled in (all zero for a NULL cache). */
struct session_cache_stats session_cache_stats(const struct session_cache *c);

#endif
