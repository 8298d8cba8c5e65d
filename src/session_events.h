/*
 * session_events: the subscriber that keeps the session cache honest. It
 * holds the store's subscription to the announcements of ended sessions
 * (store_sessions_ended_subscribe: one connection of its own to one Redis
 * node), where every chatd announces the sessions it ended. Each message forgets those sessions in
 * the cache. The cache is live only while the subscription is confirmed:
 * when the connection is lost (or refused, or killed), the cache is
 * flushed and unused until the subscription is confirmed again, on the
 * next node in turn.
 *
 * Each message also ends the open streams of those sessions on this chatd
 * (session_streams.h). It runs whether or not the cache is on: without
 * it, only the streams use the messages. A stream of a session whose end
 * was announced while the subscription was down goes on (its next send
 * or request is refused all the same).
 */
#ifndef CHAT_SESSION_EVENTS_H
#define CHAT_SESSION_EVENTS_H

#include <stdbool.h>

struct event_base;
struct session_cache;
struct store;
struct session_events;
struct session_streams;

/* Starts subscribing through the store (on each node in turn until one
 * confirms); an attempt may take at most timeout_ms. cache (NULL: off) is
 * kept honest, streams' sessions (NULL: none) end their streams. NULL when
 * out of memory. */
struct session_events *session_events_new(struct event_base *base, struct store *store,
                                          struct session_cache *cache,
                                          struct session_streams *streams, int timeout_ms);

/* Closes the subscription (the cache stops being live). NULL is fine. */
void session_events_free(struct session_events *ev);

/* True while the subscription is confirmed. */
bool session_events_subscribed(const struct session_events *ev);

#endif
