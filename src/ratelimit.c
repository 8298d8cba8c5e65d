/* ratelimit: Redis-backed abuse limits shared by every chatd, see ratelimit.h. */
#include "ratelimit.h"

#include <errno.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "metrics.h"
#include "store.h"

#define RATE_WINDOW_MAX_S 86400

/* What each limit is called (in keys and metrics) and how it fails. */
static const struct {
    const char *name;  /* rate:<name>:<subject>, chatd_rate_limited_total{limit=<name>} */
    bool fail_closed;  /* Redis unavailable: refuse (503) rather than allow */
} limits[RATE_LIMIT_COUNT] = {
    [RATE_LOGIN_EMAIL] = {"login-email", true},
    [RATE_LOGIN_ADDRESS] = {"login-address", true},
    [RATE_REGISTER_ADDRESS] = {"register-address", false},
    [RATE_MESSAGES_USER] = {"messages-user", false},
    [RATE_ROOMS_USER] = {"rooms-user", false},
    [RATE_ROOMS_ADDRESS] = {"rooms-address", false},
    [RATE_LOGIN_GLOBAL] = {"login-global", true},
    [RATE_DM_USER] = {"dm-user", false},
    [RATE_INVITES_USER] = {"invites-user", false},
    [RATE_API_KEY] = {"api-key", false},
    [RATE_EDITS_USER] = {"edits-user", false},
    [RATE_REACTIONS_USER] = {"reactions-user", false},
    [RATE_TYPING_USER] = {"typing-user", false},
};

int rate_rule_parse(const char *text, struct rate_rule *out) {
    char *end;
    errno = 0;
    long count = strtol(text, &end, 10);
    if (errno || end == text || count < 0 || count > 1000000000) return -1;
    if (count == 0 && *end == '\0') {
        *out = (struct rate_rule){0, 0};
        return 0;
    }
    if (*end != '/') return -1;
    const char *w = end + 1;
    long window = strtol(w, &end, 10);
    if (errno || end == w || *end || window < 1 || window > RATE_WINDOW_MAX_S) return -1;
    *out = (struct rate_rule){(int)count, (int)window};
    return 0;
}

int ratelimit_init(struct ratelimit *rl, const struct config *cfg, char err[256]) {
    const struct {
        const char *flag, *value;
    } given[RATE_LIMIT_COUNT] = {
        [RATE_LOGIN_EMAIL] = {"--limit-login-email", cfg->limit_login_email},
        [RATE_LOGIN_ADDRESS] = {"--limit-login-address", cfg->limit_login_address},
        [RATE_REGISTER_ADDRESS] = {"--limit-register-address", cfg->limit_register_address},
        [RATE_MESSAGES_USER] = {"--limit-messages-user", cfg->limit_messages_user},
        [RATE_ROOMS_USER] = {"--limit-rooms-user", cfg->limit_rooms_user},
        [RATE_ROOMS_ADDRESS] = {"--limit-rooms-address", cfg->limit_rooms_address},
        [RATE_LOGIN_GLOBAL] = {"--limit-login-global", cfg->limit_login_global},
        [RATE_DM_USER] = {"--limit-dm-user", cfg->limit_dm_user},
        [RATE_INVITES_USER] = {"--limit-invites-user", cfg->limit_invites_user},
        [RATE_API_KEY] = {"--limit-api-key", cfg->limit_api_key},
        [RATE_EDITS_USER] = {"--limit-edits-user", cfg->limit_edits_user},
        [RATE_REACTIONS_USER] = {"--limit-reactions-user", cfg->limit_reactions_user},
        [RATE_TYPING_USER] = {"--limit-typing-user", cfg->limit_typing_user},
    };
    for (int i = 0; i < RATE_LIMIT_COUNT; i++) {
        if (rate_rule_parse(given[i].value, &rl->rules[i]) < 0) {
            snprintf(err, 256, "%s: expected N/seconds (seconds 1 to %d) or 0, got '%s'",
                     given[i].flag, RATE_WINDOW_MAX_S, given[i].value);
            return -1;
        }
    }
    return 0;
}

void ratelimit_attach(struct ratelimit *rl, struct store *store, struct event_base *base,
                      struct metrics *metrics) {
    rl->store = store;
    rl->base = base;
    rl->metrics = metrics;
}

bool ratelimit_enabled(const struct ratelimit *rl, enum rate_limit limit) {
    return rl->rules[limit].count != 0;
}

/* The checks of one ratelimit_check call, answered together. */
struct check_op {
    struct metrics *metrics; /* where refused and uncounted hits are counted */
    ratelimit_fn *done;
    void *arg;
    size_t pending;      /* hits not answered yet */
    enum rate_verdict verdict; /* the worst so far */
    long long retry_ms;  /* the longest wait among the limits hit */
    struct check_hit {
        struct check_op *op;
        enum rate_limit limit;
    } hits[RATE_LIMIT_COUNT];
};

static void finish(struct check_op *op) {
    int retry_s = (int)((op->retry_ms + 999) / 1000);
    if (op->verdict != RATE_LIMITED) retry_s = 0;
    else if (retry_s < 1) retry_s = 1;
    op->done(op->verdict, retry_s, op->arg);
    free(op);
}

/* Folds one limit's outcome into the verdict. */
static void account(struct check_op *op, enum rate_limit limit, enum store_status st,
                    long long retry_ms) {
    if (st != STORE_OK) {
        metrics_rate_unchecked(op->metrics, limits[limit].name);
        if (limits[limit].fail_closed && op->verdict == RATE_ALLOWED) op->verdict = RATE_UNCHECKED;
        return;
    }
    if (retry_ms <= 0) return;
    metrics_rate_limited(op->metrics, limits[limit].name);
    op->verdict = RATE_LIMITED;
    if (retry_ms > op->retry_ms) op->retry_ms = retry_ms;
}

static void on_hit(enum store_status st, long long retry_ms, void *arg) {
    struct check_hit *hit = arg;
    struct check_op *op = hit->op;
    account(op, hit->limit, st, retry_ms);
    if (--op->pending == 0) finish(op);
}

static void on_nothing_to_count(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    finish(arg);
}

int ratelimit_check(const struct ratelimit *rl, const struct rate_check *checks, size_t n,
                    ratelimit_fn *done, void *arg) {
    if (n > RATE_LIMIT_COUNT) return -1;
    struct check_op *op = calloc(1, sizeof(*op));
    if (!op) return -1;
    *op = (struct check_op){.metrics = rl->metrics, .done = done, .arg = arg, .verdict = RATE_ALLOWED};
    op->pending = 1; /* held while the hits are sent */
    for (size_t i = 0; i < n; i++) {
        const struct rate_rule *rule = &rl->rules[checks[i].limit];
        if (rule->count == 0) continue;
        op->hits[i] = (struct check_hit){op, checks[i].limit};
        op->pending++;
        if (store_rate_hit(rl->store, limits[checks[i].limit].name, checks[i].subject,
                           rule->count, (long long)rule->window_s * 1000, on_hit,
                           &op->hits[i]) < 0) {
            op->pending--;
            account(op, checks[i].limit, STORE_UNAVAILABLE, 0);
        }
    }
    if (--op->pending > 0) return 0;
    /* nothing was sent: answer on the next loop turn, never from inside this call */
    struct timeval now = {0, 0};
    if (event_base_once(rl->base, -1, EV_TIMEOUT, on_nothing_to_count, op, &now) < 0) {
        free(op);
        return -1;
    }
    return 0;
}
