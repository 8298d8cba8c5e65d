/*
 * sessionlib: helpers for the tests of the session cache across chatd
 * (tests/integration/test_session_cache.c, tests/cluster/test_sessions.c):
 * sending with a token to a given chatd, making it cache a session, and
 * waiting, bounded, for its /metrics to show that an event arrived.
 */
#ifndef CHAT_SESSIONLIB_H
#define CHAT_SESSIONLIB_H

#include <stdbool.h>

/* The counter of ended sessions a chatd was told of. */
#define SESSION_INVALIDATIONS "chatd_session_cache_invalidations_total"

/* POST /message/ with token to the chatd at base; the HTTP status. */
long session_send(const char *base, const char *token);

/* Sends twice with token to base, both 201, the second answered from the
 * cache (base's hit counter goes up). */
void session_assert_cached(const char *base, const char *token);

/* Waits (at most 20 s, polling /metrics) until base's sample exceeds
 * value; fails the test otherwise. */
void session_wait_metric_above(const char *base, const char *sample, long long value);

/* Logs client out (on its own chatd), waits until the chatd at base was
 * told of the end, and checks that base then refuses token (the client's). */
struct chat_client;
void session_assert_logout_reaches(const char *base, struct chat_client *client,
                                   const char *token);

/* Waits (at most 20 s) until base's subscription is confirmed. */
bool session_wait_subscribed(const char *base);

#endif
