/*
 * ratelimit: the abuse limits, kept in Redis so that every chatd shares them
 * (docs/SECURITY.md). Each limit allows N hits per window of S seconds
 * ("N/S" in the configuration, "0" for no limit) per subject: login attempts
 * per e-mail address and per client address, registrations per client
 * address, messages per user. A hit is one single-key script on
 * rate:<limit>:<subject> (store_rate_hit), so it works on any cluster slot.
 *
 * When Redis cannot count a hit, the login limits fail closed (503: a
 * partial outage must not open the door to password guessing) and the
 * others fail open (registration and chat keep working).
 *
 * Contract (as for the store): ratelimit_check returns -1 and never calls
 * back, or returns 0 and calls back exactly once, later, on the loop thread.
 */
#ifndef CHAT_RATELIMIT_H
#define CHAT_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>

#include "client_addr.h"
#include "errors.h"

struct config;
struct request;
struct server;

enum rate_limit {
    RATE_LOGIN_EMAIL,      /* login attempts (and password changes) per e-mail */
    RATE_LOGIN_ADDRESS,    /* login attempts (and password changes) per client address */
    RATE_REGISTER_ADDRESS, /* registrations per client address */
    RATE_MESSAGES_USER,    /* messages per user */
    RATE_LIMIT_COUNT
};

/* One limit's setting. */
struct rate_rule {
    int count;    /* hits allowed per window; 0: no limit */
    int window_s; /* the window in seconds */
};

/* The limits as configured: one set per server (srv->limits). */
struct ratelimit {
    struct rate_rule rules[RATE_LIMIT_COUNT]; /* by enum rate_limit */
};

/* Parses "N/S" (N hits per S seconds, 1 <= S <= 86400) or "0" (no limit);
 * 0 or -1. Pure. */
int rate_rule_parse(const char *text, struct rate_rule *out);

/* Reads the four limits from the configuration into rl; -1 with err filled
 * when one is malformed. */
int ratelimit_init(struct ratelimit *rl, const struct config *cfg, char err[256]);

/* One hit to count: a limit and whom it is about. */
struct rate_check {
    enum rate_limit limit;
    const char *subject; /* e-mail, client address or user id */
};

/* verdict is CHAT_E_OK, CHAT_E_RATE_LIMITED (then retry_after_s >= 1) or
 * CHAT_E_UNAVAILABLE (a fail-closed limit could not be counted). */
typedef void ratelimit_fn(chat_error verdict, int retry_after_s, void *arg);

/* Whether the limit is set (not "0"): a caller that is already in a
 * callback may skip ratelimit_check for a limit that is off. */
bool ratelimit_enabled(const struct ratelimit *rl, enum rate_limit limit);

/* Counts one hit on each of the n checks at once (srv->limits); the verdict
 * is the worst. */
int ratelimit_check(struct server *srv, const struct rate_check *checks, size_t n,
                    ratelimit_fn *done, void *arg);

/* Answers a request that did not pass: 429 rate_limited with Retry-After,
 * or the verdict's error. Frees r. */
void ratelimit_reply(struct request *r, chat_error verdict, int retry_after_s);

/* The address the request comes from (see client_addr.h), with the
 * configured trusted proxies. */
void ratelimit_client_address(const struct request *r, char out[CLIENT_ADDR_MAX]);

#endif
