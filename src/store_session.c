/*
 * store_session: the session commands of the store (docs/STORAGE.md):
 * creating a session and indexing it under its user, reading it (from the
 * session cache when the cache may answer, else GETEX), and ending it: one
 * (logout), every other of a user (password change), or the oldest beyond
 * STORE_SESSIONS_MAX (login). Every end is announced on
 * STORE_CHANNEL_SESSIONS_ENDED after the deletion succeeded and before it
 * is reported, so that every chatd forgets its cached copy.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "cluster.h"
#include "cluster_conn.h"
#include "log.h"
#include "session_cache.h"
#include "store_keys.h"
#include "store_private.h"

#define SESSION_FORMAT_TAG "v2" /* "v1" sessions, without the version, are version 0 */
/* Sessions from an application's token add their end and their rooms. */
#define SESSION_FORMAT_TAG_TOKEN "v3"
#define SESSION_ROOMS_ANY "*" /* v3: the session may write to every room */
#define SESSION_FIELDS_MAX 7

/* A non-negative decimal field into *out; -1 when it is not one. */
static int parse_count(const char *s, size_t len, long long *out) {
    char digits[24];
    char *digits_end;
    if (len == 0 || len >= sizeof(digits)) return -1;
    memcpy(digits, s, len);
    digits[len] = '\0';
    *out = strtoll(digits, &digits_end, 10);
    return *digits_end || *out < 0 ? -1 : 0;
}

static int copy_text(char *out, size_t size, const char *s, size_t len) {
    if (len >= size) return -1;
    memcpy(out, s, len);
    out[len] = '\0';
    return 0;
}

/* How many newline-separated fields a value of this tag has, 0 for none. */
static int fields_of_tag(const char *v, size_t len) {
    if (len < 2) return 0;
    if (memcmp(v, "v1", 2) == 0) return 4;
    if (memcmp(v, SESSION_FORMAT_TAG, 2) == 0) return 5;
    if (memcmp(v, SESSION_FORMAT_TAG_TOKEN, 2) == 0) return 7;
    return 0;
}

/* Splits "v2\n<id>\n<email>\n<name>\n<password version>", "v3\n...\n<pv>\n
 * <expires ms>\n<rooms>" or "v1\n<id>\n<email>\n<name>" (version 0) into u;
 * -1 when it is none of them. */
static int session_parse(const char *v, size_t len, struct session_user *u) {
    const char *end = v + len, *field[SESSION_FIELDS_MAX] = {0};
    size_t flen[SESSION_FIELDS_MAX] = {0};
    int nfields = fields_of_tag(v, len);
    for (int i = 0; i < nfields; i++) {
        const char *nl = i < nfields - 1 ? memchr(v, '\n', (size_t)(end - v)) : end;
        if (!nl) return -1;
        field[i] = v;
        flen[i] = (size_t)(nl - v);
        v = nl + 1;
    }
    if (nfields == 0 || flen[0] != 2) return -1;
    *u = (struct session_user){.password_version = 0};
    if (copy_text(u->id, sizeof(u->id), field[1], flen[1]) < 0 ||
        copy_text(u->email, sizeof(u->email), field[2], flen[2]) < 0 ||
        copy_text(u->name, sizeof(u->name), field[3], flen[3]) < 0)
        return -1;
    if (nfields >= 5 && parse_count(field[4], flen[4], &u->password_version) < 0) return -1;
    if (nfields < 7) return 0;
    u->rooms_limited = !(flen[6] == 1 && field[6][0] == SESSION_ROOMS_ANY[0]);
    if (parse_count(field[5], flen[5], &u->expires_ms) < 0 ||
        (u->rooms_limited && copy_text(u->rooms, sizeof(u->rooms), field[6], flen[6]) < 0))
        return -1;
    return 0;
}

/* Writes u's session value into out[size]: v3 when it has an end or rooms,
 * else v2 (which every chatd reads). -1 when it does not fit. */
static int session_format(char *out, size_t size, const struct session_user *u,
                          long long version) {
    int n;
    if (u->expires_ms > 0 || u->rooms_limited)
        n = snprintf(out, size, SESSION_FORMAT_TAG_TOKEN "\n%s\n%s\n%s\n%lld\n%lld\n%s", u->id,
                     u->email, u->name, version, u->expires_ms,
                     u->rooms_limited ? u->rooms : SESSION_ROOMS_ANY);
    else
        n = snprintf(out, size, SESSION_FORMAT_TAG "\n%s\n%s\n%s\n%lld", u->id, u->email,
                     u->name, version);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Removes hash from user_id's session index (durably); -1 when it cannot be sent. */
static int session_unindex(struct store *s, const char *user_id, const char *hash,
                           cluster_reply_fn *done, void *arg) {
    char index[STORE_KEY_MAX];
    if (store_key_user_sessions(index, sizeof(index), user_id) < 0) return -1;
    const char *argv[] = {"ZREM", index, hash};
    size_t lens[] = {4, strlen(index), strlen(hash)};
    return store_command(s, STORE_ACK_DURABLE, index, done, arg, 3, argv, lens);
}

/* ---- ending a session: delete, announce, unindex, report ---- */

/* How the session's key is deleted. */
enum end_kind {
    END_GETDEL, /* logout: the value names the user (nil: STORE_NOT_FOUND) */
    END_DEL     /* the user is known, or the index entry is gone already */
};

/* One session being ended. */
struct session_end {
    struct store *s;
    store_status_fn *cb;                /* the report */
    void *arg;
    char hash[STORE_KEY_MAX];           /* the session's token hash */
    char user_id[CHAT_USER_ID_LEN + 1]; /* whose index to update, "" for none */
    enum store_status status;           /* STORE_OK until a step fails */
};

static void end_report(struct session_end *e, enum store_status st) {
    e->cb(e->status != STORE_OK ? e->status : st, e->arg);
    free(e);
}

static void on_end_unindexed(redisReply *r, void *arg) { end_report(arg, status_of(r)); }

static void on_end_announced(redisReply *r, void *arg) {
    struct session_end *e = arg;
    if (status_of(r) != STORE_OK) {
        log_warn("msg=\"session end not announced: other chatd answer from their copy until it"
                 " is too old\"");
        e->status = STORE_UNAVAILABLE;
    }
    if (!e->user_id[0]) end_report(e, STORE_OK);
    else if (session_unindex(e->s, e->user_id, e->hash, on_end_unindexed, e) < 0)
        end_report(e, STORE_UNAVAILABLE);
}

/* The key is gone: forgotten here at once, then announced to every chatd. */
static void end_announce(struct session_end *e) {
    session_cache_forget(e->s->sessions, e->hash);
    const char *argv[] = {"PUBLISH", STORE_CHANNEL_SESSIONS_ENDED, e->hash};
    size_t lens[] = {7, sizeof(STORE_CHANNEL_SESSIONS_ENDED) - 1, strlen(e->hash)};
    if (store_command(e->s, STORE_ACK_PLAIN, argv[1], on_end_announced, e, 3, argv, lens) < 0)
        on_end_announced(NULL, e);
}

static void on_end_deleted(redisReply *r, void *arg) {
    struct session_end *e = arg;
    enum store_status st = status_of(r);
    struct session_user u;
    if (st == STORE_OK && r->type == REDIS_REPLY_NIL) st = STORE_NOT_FOUND; /* GETDEL: none */
    else if (st == STORE_OK && r->type == REDIS_REPLY_STRING) { /* GETDEL: the session */
        if (session_parse(r->str, r->len, &u) < 0) st = STORE_ERROR;
        else memcpy(e->user_id, u.id, sizeof(e->user_id));
    }
    if (st == STORE_NOT_FOUND) session_cache_remove(e->s->sessions, e->hash); /* gone anyway */
    if (st != STORE_OK) end_report(e, st);
    else end_announce(e);
}

/* Ends the session of hash; user_id (NULL for END_GETDEL or when the index
 * entry is gone already) names the index to update. -1 when it cannot be
 * sent (cb never runs). */
static int session_end_start(struct store *s, const char *hash, const char *user_id,
                             enum end_kind kind, store_status_fn *cb, void *arg) {
    char key[STORE_KEY_MAX];
    struct session_end *e = calloc(1, sizeof(*e));
    if (!e || store_key_session(key, sizeof(key), hash) < 0 || strlen(hash) >= sizeof(e->hash)) {
        free(e);
        return -1;
    }
    *e = (struct session_end){.s = s, .cb = cb, .arg = arg, .status = STORE_OK};
    memcpy(e->hash, hash, strlen(hash) + 1);
    if (user_id) snprintf(e->user_id, sizeof(e->user_id), "%s", user_id);
    const char *argv[] = {kind == END_GETDEL ? "GETDEL" : "DEL", key};
    size_t lens[] = {strlen(argv[0]), strlen(key)};
    if (store_command(s, STORE_ACK_DURABLE, key, on_end_deleted, e, 2, argv, lens) < 0) {
        free(e);
        return -1;
    }
    return 0;
}

int store_session_delete(struct store *s, const char *token_hash, store_status_fn *cb,
                         void *arg) {
    return session_end_start(s, token_hash, NULL, END_GETDEL, cb, arg);
}

/* Ending every session of a user but one: the index is read, then each
 * other session is ended (deleted, announced, unindexed). */
struct sessions_end_op {
    store_status_fn *cb;
    void *arg;
    size_t pending;           /* ends not finished yet */
    enum store_status status; /* STORE_OK until one fails */
};

static void on_one_ended(enum store_status st, void *arg) {
    struct sessions_end_op *op = arg;
    if (st != STORE_OK && st != STORE_NOT_FOUND) op->status = st;
    if (--op->pending > 0) return;
    op->cb(op->status, op->arg);
    free(op);
}

/* The index read by store_sessions_end_others (op, the user and the hash to keep). */
struct index_read {
    struct store *s;
    struct sessions_end_op *op;
    char user_id[CHAT_USER_ID_LEN + 1]; /* whose sessions */
    char keep[STORE_KEY_MAX];           /* the hash of the session that stays */
};

static void on_index_read(redisReply *r, void *arg) {
    struct index_read *ir = arg;
    struct sessions_end_op *op = ir->op;
    enum store_status st = status_of(r);
    if (st == STORE_OK && r->type != REDIS_REPLY_ARRAY) st = STORE_ERROR;
    op->pending = 1; /* held until every end has started */
    op->status = st;
    for (size_t i = 0; st == STORE_OK && i < r->elements; i++) {
        const redisReply *h = r->element[i];
        if (h->type != REDIS_REPLY_STRING || strcmp(h->str, ir->keep) == 0) continue;
        op->pending++;
        if (session_end_start(ir->s, h->str, ir->user_id, END_DEL, on_one_ended, op) < 0) {
            op->pending--;
            op->status = STORE_UNAVAILABLE;
        }
    }
    free(ir);
    on_one_ended(STORE_OK, op);
}

int store_sessions_end_others(struct store *s, const char *user_id, const char *keep_hash,
                              store_status_fn *cb, void *arg) {
    char index[STORE_KEY_MAX];
    if (store_key_user_sessions(index, sizeof(index), user_id) < 0) return -1;
    struct sessions_end_op *op = calloc(1, sizeof(*op));
    struct index_read *ir = calloc(1, sizeof(*ir));
    if (!op || !ir) {
        free(op);
        free(ir);
        return -1;
    }
    *op = (struct sessions_end_op){.cb = cb, .arg = arg};
    *ir = (struct index_read){.s = s, .op = op};
    snprintf(ir->user_id, sizeof(ir->user_id), "%s", user_id);
    snprintf(ir->keep, sizeof(ir->keep), "%s", keep_hash);
    const char *argv[] = {"ZRANGE", index, "0", "-1"};
    size_t lens[] = {6, strlen(index), 1, 2};
    if (store_command(s, STORE_ACK_PLAIN, index, on_index_read, ir, 4, argv, lens) < 0) {
        free(op);
        free(ir);
        return -1;
    }
    return 0;
}

int store_user_sessions_end_all(struct store *s, const char *user_id, store_status_fn *cb,
                                void *arg) {
    return store_sessions_end_others(s, user_id, "", cb, arg);
}

/* ---- creating a session ---- */

/* Adds a session hash to its user's index and trims the index to the newest
 * STORE_SESSIONS_MAX; answers the hashes trimmed away (their sessions end). */
static const char session_index_script[] =
    "redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])\n"
    "local n = redis.call('ZCARD', KEYS[1])\n"
    "local max = tonumber(ARGV[3])\n"
    "if n <= max then return {} end\n"
    "local old = redis.call('ZRANGE', KEYS[1], 0, n - max - 1)\n"
    "redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - max - 1)\n"
    "return old\n";

/* A session being created: indexed first, then stored while the sessions
 * trimmed from the index end; reported when all of that is done. */
struct session_create_op {
    struct store *s;
    store_status_fn *cb;
    void *arg;
    char key[STORE_KEY_MAX];  /* session:<hash> */
    char value[1024];         /* the session's value */
    char ttl[16];             /* its lifetime in seconds */
    size_t pending;           /* the SET and the ends not answered yet */
    enum store_status status; /* the SET's */
};

static void create_step_done(struct session_create_op *op) {
    if (--op->pending > 0) return;
    op->cb(op->status, op->arg);
    free(op);
}

static void on_session_stored(redisReply *r, void *arg) {
    struct session_create_op *op = arg;
    op->status = status_of(r);
    create_step_done(op);
}

/* A session trimmed from the index ended; its failure only leaves the
 * session to expire. */
static void on_trimmed_ended(enum store_status st, void *arg) {
    if (st != STORE_OK && st != STORE_NOT_FOUND)
        log_warn("msg=\"a session beyond the per-user limit did not end\"");
    create_step_done(arg);
}

static void on_session_indexed(redisReply *r, void *arg) {
    struct session_create_op *op = arg;
    enum store_status st = status_of(r);
    if (st != STORE_OK) {
        op->cb(st, op->arg);
        free(op);
        return;
    }
    op->pending = 1; /* held until the SET is sent */
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING &&
            session_end_start(op->s, r->element[i]->str, NULL, END_DEL, on_trimmed_ended, op) == 0)
            op->pending++;
    const char *argv[] = {"SET", op->key, op->value, "EX", op->ttl};
    size_t lens[] = {3, strlen(op->key), strlen(op->value), 2, strlen(op->ttl)};
    int sent = store_command(op->s, STORE_ACK_DURABLE, op->key, on_session_stored, op, 5, argv,
                             lens);
    if (sent == 0)
        op->pending++;
    else
        op->status = STORE_UNAVAILABLE;
    create_step_done(op);
}

int store_session_create(struct store *s, const char *token_hash, const struct session_user *u,
                         int ttl, store_status_fn *cb, void *arg) {
    char index[STORE_KEY_MAX], now[24], max[16];
    struct session_create_op *op = calloc(1, sizeof(*op));
    if (!op) return -1;
    *op = (struct session_create_op){.s = s, .cb = cb, .arg = arg, .status = STORE_OK};
    if (session_format(op->value, sizeof(op->value), u, u->password_version) < 0 ||
        store_key_session(op->key, sizeof(op->key), token_hash) < 0 ||
        store_key_user_sessions(index, sizeof(index), u->id) < 0) {
        free(op);
        return -1;
    }
    snprintf(op->ttl, sizeof(op->ttl), "%d", ttl);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    snprintf(now, sizeof(now), "%lld", (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000);
    snprintf(max, sizeof(max), "%d", STORE_SESSIONS_MAX);
    const char *argv[] = {"EVAL", session_index_script, "1", index, now, token_hash, max};
    if (store_command(s, STORE_ACK_DURABLE, index, on_session_indexed, op, 7, argv, NULL) < 0) {
        free(op);
        return -1;
    }
    return 0;
}

/* Rewriting a session with a new password version (its lifetime kept). */
struct session_version_op {
    store_status_fn *cb;
    void *arg;
};

static void on_session_versioned(redisReply *r, void *arg) {
    struct session_version_op *op = arg;
    enum store_status st = status_of(r);
    if (st == STORE_OK && r->type == REDIS_REPLY_NIL) st = STORE_NOT_FOUND;
    op->cb(st, op->arg);
    free(op);
}

int store_session_set_version(struct store *s, const char *token_hash,
                              const struct session_user *u, long long version,
                              store_status_fn *cb, void *arg) {
    char key[STORE_KEY_MAX], value[1024];
    if (session_format(value, sizeof(value), u, version) < 0 ||
        store_key_session(key, sizeof(key), token_hash) < 0)
        return -1;
    struct session_version_op *op = calloc(1, sizeof(*op));
    if (!op) return -1;
    *op = (struct session_version_op){cb, arg};
    const char *argv[] = {"SET", key, value, "KEEPTTL", "XX"};
    if (store_command(s, STORE_ACK_DURABLE, key, on_session_versioned, op, 5, argv, NULL) < 0) {
        free(op);
        return -1;
    }
    return 0;
}

/* ---- reading a session ---- */

/* One session read: a GETEX in flight, or an answer from the cache waiting
 * in the store's queue for the loop to run it (never inside the call). */
struct session_read {
    struct store *s;
    store_session_fn *cb;
    void *arg;
    char hash[SESSION_CACHE_HASH_LEN + 1]; /* "" when it cannot be a cache key */
    unsigned long long epoch;              /* the cache's when the GETEX was sent */
    long long sent_ms;                     /* when it was sent (CLOCK_MONOTONIC) */
    struct session_read *next;             /* in the queue */
    struct session_user user;              /* the answer */
};

static void session_read_done(struct session_read *op, enum store_status st) {
    if (st == STORE_OK)
        session_cache_fill(op->s->sessions, op->hash, &op->user, op->sent_ms, op->epoch);
    else if (st == STORE_NOT_FOUND)
        session_cache_remove(op->s->sessions, op->hash);
    op->cb(st, st == STORE_OK ? &op->user : NULL, op->arg);
    free(op);
}

/* Whether a session with an end of its own (from a token) is past it. */
static bool session_ended(const struct session_user *u) {
    struct timeval tv;
    if (u->expires_ms <= 0) return false;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000 >= u->expires_ms;
}

/* A session of an older password version than its user's is over: a login
 * that verified the old password added it after the change had ended the
 * user's other sessions. So is one whose user is gone (a deleted account)
 * or is another user now (the address registered again). */
static void on_version_got(redisReply *r, void *arg) {
    struct session_read *op = arg;
    enum store_status st = status_of(r);
    if (st == STORE_OK && (r->type != REDIS_REPLY_ARRAY || r->elements != 2)) st = STORE_ERROR;
    if (st == STORE_OK &&
        (r->element[0]->type != REDIS_REPLY_STRING ||
         strcmp(r->element[0]->str, op->user.id) != 0 ||
         store_password_version_of(r->element[1]) != op->user.password_version ||
         session_ended(&op->user)))
        st = STORE_NOT_FOUND;
    session_read_done(op, st);
}

static void on_session_got(redisReply *r, void *arg) {
    struct session_read *op = arg;
    enum store_status st = status_of(r);
    char user[STORE_KEY_MAX];
    if (st == STORE_OK) {
        if (r->type == REDIS_REPLY_NIL) st = STORE_NOT_FOUND;
        else if (r->type != REDIS_REPLY_STRING || session_parse(r->str, r->len, &op->user) < 0 ||
                 store_key_user(user, sizeof(user), op->user.email) < 0)
            st = STORE_ERROR;
    }
    if (st != STORE_OK) {
        session_read_done(op, st);
        return;
    }
    const char *argv[] = {"HMGET", user, "id", "pv"};
    if (store_command(op->s, STORE_ACK_PLAIN, user, on_version_got, op, 4, argv, NULL) < 0)
        session_read_done(op, STORE_UNAVAILABLE);
}

/* Runs the queued cached answers, including those queued meanwhile. */
static void run_answers(struct store *s) {
    while (s->answers) {
        struct session_read *op = s->answers;
        s->answers = op->next;
        if (!s->answers) s->answers_tail = NULL;
        op->cb(STORE_OK, &op->user, op->arg);
        free(op);
    }
}

static void on_answers(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    run_answers(arg);
}

int store_session_get(struct store *s, const char *token_hash, int ttl, store_session_fn *cb,
                      void *arg) {
    char key[STORE_KEY_MAX], ttl_text[16];
    if (store_key_session(key, sizeof(key), token_hash) < 0) return -1;
    struct session_read *op = malloc(sizeof(*op));
    if (!op) return -1;
    op->s = s;
    op->cb = cb;
    op->arg = arg;
    op->next = NULL;
    op->user = (struct session_user){.password_version = 0};
    op->hash[0] = '\0';
    op->epoch = 0;
    op->sent_ms = 0;
    if (s->sessions && strlen(token_hash) == SESSION_CACHE_HASH_LEN) {
        memcpy(op->hash, token_hash, sizeof(op->hash));
        op->sent_ms = conn_now_ms();
        /* a cached session past its own end goes to Redis, which refuses it */
        if (session_cache_lookup(s->sessions, op->hash, op->sent_ms, &op->user) &&
            !session_ended(&op->user)) {
            if (s->answers_tail) {
                s->answers_tail->next = op;
            } else {
                s->answers = op;
                event_active(s->answer_ev, EV_TIMEOUT, 0);
            }
            s->answers_tail = op;
            return 0;
        }
        op->epoch = session_cache_epoch(s->sessions);
    }
    snprintf(ttl_text, sizeof(ttl_text), "%d", ttl);
    const char *argv[] = {"GETEX", key, "EX", ttl_text};
    size_t lens[] = {5, strlen(key), 2, strlen(ttl_text)};
    if (store_command(s, STORE_ACK_PLAIN, key, on_session_got, op, 4, argv, lens) < 0) {
        free(op);
        return -1;
    }
    return 0;
}

void store_run_queued(struct store *s) {
    if (s) run_answers(s);
}

int store_sessions_init(struct store *s) {
    if (!s->sessions) return 0;
    s->answer_ev = event_new(s->base, -1, 0, on_answers, s);
    return s->answer_ev ? 0 : -1;
}

void store_sessions_cleanup(struct store *s) {
    run_answers(s);
    if (s->answer_ev) event_free(s->answer_ev);
}
