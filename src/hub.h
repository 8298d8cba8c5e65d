/*
 * hub: server-side fan-out. For each room with local subscribers, one reader
 * follows the room's stream, always from the last id it saw (its start is
 * the room's newest id, read before any subscriber is told it may begin).
 * It reads (non-blocking, on the pooled connections) when the room's
 * doorbell rings and whenever the doorbell's subscription is confirmed
 * (store_doorbell.h): Redis connections grow with the masters, not with
 * the rooms. Each new message is handed to every subscriber of this
 * chatd: a thousand local clients cost one Redis read. The hub hands out
 * messages, never wire frames: each
 * transport frames a message itself, once for all its subscribers (the
 * delivered callback tells when a message's delivery is over).
 *
 * Contract: on_ready runs once, soon after hub_subscribe() (never inside
 * it), when the reader knows its starting point: everything stored after
 * that reaches on_event, everything before it is in the history. on_event
 * runs for every later message, in order. After hub_unsubscribe() neither
 * runs again.
 */
#ifndef CHAT_HUB_H
#define CHAT_HUB_H

#include <stddef.h>

#include "message.h"

struct event_base;
struct store;
struct hub;
struct hub_sub;

/* One message as delivered to subscribers; valid during the callback (the
 * same msg pointer for every subscriber of one delivery). */
struct hub_event {
    const struct message *msg; /* the message (msg->id is its id) */
};

typedef void hub_event_fn(const struct hub_event *ev, void *arg);
typedef void hub_ready_fn(void *arg);
/* Runs once per message after every subscriber's on_event (a batch ends). */
typedef void hub_delivered_fn(const struct hub_event *ev, void *arg);

struct hub *hub_new(struct event_base *base, struct store *store);
/* Frees the hub; subscribers must be gone. A room whose catch-up read is
 * still in Redis frees itself when the read returns. NULL is fine. */
void hub_free(struct hub *h);

/* Subscribes to room; NULL when out of memory. */
struct hub_sub *hub_subscribe(struct hub *h, const char *room, hub_event_fn *on_event,
                              hub_ready_fn *on_ready, void *arg);
/* Sets the function run (with arg) after each message reached every
 * subscriber. */
void hub_set_delivered(struct hub *h, hub_delivered_fn *fn, void *arg);

/* In on_ready: the room's id after which on_event begins (its newest id
 * then, "0-0" for an empty room): where a subscriber without a cursor
 * stands. */
const char *hub_ready_id(const struct hub_sub *sub);

/* An ephemeral signal of a room (signal.h: typing, a coalesced presence
 * change): never in the stream, so no id, and never replayed. Valid during
 * the callback (the same pointer for every subscriber of one delivery). */
struct hub_signal {
    const char *room;
    const char *kind;  /* the event's name: "typing" or "presence" */
    const char *data;  /* its JSON object, len bytes (not NUL-terminated) */
    size_t len;
};
typedef void hub_signal_fn(const struct hub_signal *sig, void *arg);

/* Hands the room's signals to sub too (with the arg of hub_subscribe),
 * from its on_ready on: by default a subscription gets messages only. */
void hub_sub_on_signal(struct hub_sub *sub, hub_signal_fn *fn);
/* Sets the function run (with arg) after each signal reached every
 * subscriber (a batch ends). */
void hub_set_signal_delivered(struct hub *h, hub_signal_fn *fn, void *arg);

/* Presence signals of a room reach its subscribers at most once per this
 * many ms, merged (presence_merge.h); the first after a quiet period at
 * once. */
#define HUB_PRESENCE_INTERVAL_MS 1000

/* Ends a subscription; safe inside its own callbacks. NULL is fine. */
void hub_unsubscribe(struct hub_sub *sub);

/* Compares two stream ids ("ms-seq") numerically: <0, 0 or >0. */
int hub_id_compare(const char *a, const char *b);

#endif
