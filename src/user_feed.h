/*
 * user_feed: a user's own events, which only that user's streams carry:
 * today "marker", the user's read marker of a room moved (on any device,
 * through any chatd). They live in the user's slot (user:{<id>}:events,
 * store_markers.c) and the hub follows them like a room, under the feed
 * name "~<id>" that no client can give. This module subscribes a stream to
 * its user's feed and writes each event as JSON for the transports (the
 * multi-room event stream and the WebSocket).
 */
#ifndef CHAT_USER_FEED_H
#define CHAT_USER_FEED_H

#include <stdbool.h>

#include "hub.h"
#include "message.h"

struct evbuffer;

/* Subscribes to the feed of user_id (as hub_subscribe); NULL when out of
 * memory or the id does not fit. */
struct hub_sub *user_feed_subscribe(struct hub *hub, const char *user_id, hub_event_fn *on_event,
                                    hub_ready_fn *on_ready, void *arg);

/* Appends m, one event of a user's feed, as {"room":…,"id":…}, with
 * "type":"marker" first when with_type (the WebSocket's messages name
 * their type; an event stream names it on its event: line); -1 (nothing
 * appended) for an event this chatd does not know. */
int user_feed_event_append(struct evbuffer *out, const struct message *m, bool with_type);

#endif
