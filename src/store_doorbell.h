/*
 * store_doorbell: a room's doorbell, the sharded pub/sub channel in its
 * stream's slot that every append rings (store_message_append). Whoever
 * follows rooms watches their doorbells here: one subscriber connection per
 * master, whatever the number of rooms, each channel subscribed at the
 * master of its slot and moved when the topology says the slot moved
 * (Redis also unsubscribes a shard channel whose slot left the node).
 *
 * A ring says "this room may have new messages: read from your last id";
 * it carries nothing else, and the stream stays the only record. Rings
 * published while a channel was not subscribed (connection lost, slot
 * migrating, failover) are gone; that is why the callback also runs each
 * time a channel's subscription is confirmed (first or renewed): a reader
 * that catches up then has missed nothing.
 */
#ifndef CHAT_STORE_DOORBELL_H
#define CHAT_STORE_DOORBELL_H

#include <stddef.h>

struct store;
struct store_doorbells;
struct store_doorbell;

/* Runs with the owner given to store_doorbell_watch on every ring and every
 * confirmed (re)subscription of its room (payload "", len 0), and for every
 * ephemeral signal published on the room's channel (a non-empty payload,
 * ephemeral.h): the bytes are valid during the call only. */
typedef void store_doorbell_fn(void *owner, const char *payload, size_t len);

/* The doorbells of one follower; NULL when out of memory. */
struct store_doorbells *store_doorbells_new(struct store *s, store_doorbell_fn *cb);
/* Closes the connections; every watch must be gone. NULL is fine. */
void store_doorbells_free(struct store_doorbells *d);

/* Starts watching a room's doorbell for owner (one watch per room); NULL
 * when out of memory or the room's name does not fit a key. */
struct store_doorbell *store_doorbell_watch(struct store_doorbells *d, const char *room,
                                            void *owner);
/* Stops watching; the callback does not run for it again. NULL is fine. */
void store_doorbell_unwatch(struct store_doorbell *w);

#endif
