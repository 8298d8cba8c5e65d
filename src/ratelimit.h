/*
 * ratelimit: the abuse limits, kept in Redis so that every chatd shares them
 * (docs/SECURITY.md). Each limit allows N hits per window of S seconds
 * ("N/S" in the configuration, "0" for no limit) per subject: login attempts
 * per e-mail address and per client address, registrations per client
 * address, messages per user, and logins that need a hash all together
 * (one key for every chatd: the hashing load of the whole service). A hit is one single-key script on
 * rate:<limit>:<subject> (store_rate_hit), so it works on any cluster slot.
 *
 * When Redis cannot count a hit, the login limits fail closed (503: a
 * partial outage must not open the door to password guessing) and the
 * others fail open (registration and chat keep working).
 *
 * It only decides: the verdict goes to the caller, which answers the
 * request (routes.h: routes_reply_rate_refused).
 *
 * Contract (as for the store): ratelimit_check returns -1 and never calls
 * back, or returns 0 and calls back exactly once, later, on the loop thread.
 */
#ifndef CHAT_RATELIMIT_H
#define CHAT_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct event_base;
struct metrics;
struct store;

enum rate_limit {
    RATE_LOGIN_EMAIL,      /* login attempts (and password changes) per e-mail */
    RATE_LOGIN_ADDRESS,    /* login attempts (and password changes) per client address */
    RATE_REGISTER_ADDRESS, /* registrations per client address */
    RATE_MESSAGES_USER,    /* messages per user */
    RATE_ROOMS_USER,       /* rooms created per user */
    RATE_ROOMS_ADDRESS,    /* rooms created per client address */
    RATE_LOGIN_GLOBAL,     /* logins that need a password hash, one subject for all */
    RATE_DM_USER,          /* direct conversations opened (POST /dm/) per user */
    RATE_INVITES_USER,     /* invitations (POST /room/<name>/member with a user) per user */
    RATE_API_KEY,          /* server-API calls per API key */
    RATE_EDITS_USER,       /* edits of one's messages (PATCH /room/<name>/message/) per user */
    RATE_REACTIONS_USER,   /* reactions added or taken back per user */
    RATE_TYPING_USER,      /* typing signals (POST /room/<name>/typing) per user */
    RATE_LIMIT_COUNT
};

/* One limit's setting. */
struct rate_rule {
    int count;    /* hits allowed per window; 0: no limit */
    int window_s; /* the window in seconds */
};

/* Parses "N/S" (N hits per S seconds, 1 <= S <= 86400) or "0" (no limit);
 * 0 or -1. Pure. */
int rate_rule_parse(const char *text, struct rate_rule *out);

/* The limits as configured, and what counting them needs: one per server
 * (srv->limits). */
struct ratelimit {
    struct rate_rule rules[RATE_LIMIT_COUNT]; /* by enum rate_limit */
    struct store *store;                      /* counts the hits */
    struct event_base *base;                  /* answers when nothing needed counting */
    struct metrics *metrics;                  /* counts refused and uncounted hits */
};

/* Reads the limits from the configuration into rl; -1 with err filled
 * when one is malformed. */
int ratelimit_init(struct ratelimit *rl, const struct config *cfg, char err[256]);

/* Gives rl what ratelimit_check needs, once the server has built it. */
void ratelimit_attach(struct ratelimit *rl, struct store *store, struct event_base *base,
                      struct metrics *metrics);

/* One hit to count: a limit and whom it is about. */
struct rate_check {
    enum rate_limit limit;
    const char *subject; /* e-mail, client address or user id */
};

/* What ratelimit_check decided about the hits it counted. */
enum rate_verdict {
    RATE_ALLOWED,   /* within every limit (or a fail-open limit could not be counted) */
    RATE_LIMITED,   /* over a limit: retry after retry_after_s (>= 1) seconds */
    RATE_UNCHECKED, /* a fail-closed limit could not be counted: refuse for now */
};

/* retry_after_s is >= 1 for RATE_LIMITED, else 0. */
typedef void ratelimit_fn(enum rate_verdict verdict, int retry_after_s, void *arg);

/* Whether the limit is set (not "0"): a caller that is already in a
 * callback may skip ratelimit_check for a limit that is off. */
bool ratelimit_enabled(const struct ratelimit *rl, enum rate_limit limit);

/* Counts one hit on each of the n checks at once; the verdict is the
 * worst. */
int ratelimit_check(const struct ratelimit *rl, const struct rate_check *checks, size_t n,
                    ratelimit_fn *done, void *arg);

#endif
