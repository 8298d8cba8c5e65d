/* store: user, session and message commands on the key schema of store_keys.h. */
#include "store.h"

#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "cluster.h"
#include "numfmt.h"
#include "store_keys.h"

#define SESSION_FORMAT_TAG "v1"

/* Creates the user hash only when the key does not exist yet: one slot, atomic. */
static const char user_create_script[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'id', ARGV[1], 'email', ARGV[2], 'name', ARGV[3],"
    " 'pw', ARGV[4], 'created', ARGV[5])\n"
    "return 1\n";

struct store {
    struct cluster *cluster; /* where every command goes */
};

/* One command in flight: the caller's callback and what the reply needs. */
struct store_op {
    union {
        store_status_fn *status;
        store_user_fn *user;
        store_session_fn *session;
        store_message_fn *message;
        store_range_fn *range;
        store_names_fn *names;
        store_rate_fn *rate;
    } cb;
    void *arg;
    struct message msg; /* for appends: the caller's message, id filled in */
};

struct store *store_new(struct cluster *cluster) {
    struct store *s = calloc(1, sizeof(*s));
    if (s) s->cluster = cluster;
    return s;
}

void store_free(struct store *s) { free(s); }

static struct store_op *op_new(void *arg) {
    struct store_op *op = calloc(1, sizeof(*op));
    if (op) op->arg = arg;
    return op;
}

/* How a command must be acknowledged. */
enum durability { PLAIN, DURABLE };

/* Sends argv (with NUL-terminated strings unless lens is given); a DURABLE
 * write is acknowledged only after enough replicas have it. */
static int send_op(struct store *s, struct store_op *op, cluster_reply_fn *done,
                   enum durability d, int argc, const char **argv, const size_t *lens) {
    size_t own_lens[16];
    if (!lens) {
        for (int i = 0; i < argc; i++) own_lens[i] = strlen(argv[i]);
        lens = own_lens;
    }
    /* argv[1] is the key of every command we send, except EVAL (argv[3]). */
    int key = strcmp(argv[0], "EVAL") == 0 ? 3 : 1;
    int rc = d == DURABLE
                 ? cluster_command_durable(s->cluster, argv[key], lens[key], done, op, argc, argv, lens)
                 : cluster_command_argv(s->cluster, argv[key], lens[key], done, op, argc, argv, lens);
    if (rc < 0) {
        free(op);
        return -1;
    }
    return 0;
}

static enum store_status status_of(const redisReply *r) {
    if (!r) return STORE_UNAVAILABLE;
    return r->type == REDIS_REPLY_ERROR ? STORE_ERROR : STORE_OK;
}

/* ---- users ---- */

static void on_user_created(redisReply *r, void *arg) {
    struct store_op *op = arg;
    enum store_status st = status_of(r);
    if (st == STORE_OK) st = (r->type == REDIS_REPLY_INTEGER && r->integer == 1) ? STORE_OK
                                                                                 : STORE_EXISTS;
    op->cb.status(st, op->arg);
    free(op);
}

int store_user_create(struct store *s, const struct store_user *u, store_status_fn *cb,
                      void *arg) {
    char key[STORE_KEY_MAX], created[24];
    if (store_key_user(key, sizeof(key), u->email) < 0) return -1;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    snprintf(created, sizeof(created), "%lld", (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000);
    struct store_op *op = op_new(arg);
    if (!op) return -1;
    op->cb.status = cb;
    const char *argv[] = {"EVAL", user_create_script, "1", key, u->id, u->email,
                          u->name, u->pwhash, created};
    return send_op(s, op, on_user_created, DURABLE, 9, argv, NULL);
}

static int copy_field(char *out, size_t size, const redisReply *r) {
    if (r->type != REDIS_REPLY_STRING || r->len >= size) return -1;
    memcpy(out, r->str, r->len);
    out[r->len] = '\0';
    return 0;
}

static void on_user_got(redisReply *r, void *arg) {
    struct store_op *op = arg;
    struct store_user u;
    enum store_status st = status_of(r);
    if (st == STORE_OK) {
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 4) st = STORE_ERROR;
        else if (r->element[0]->type == REDIS_REPLY_NIL) st = STORE_NOT_FOUND;
        else if (copy_field(u.id, sizeof(u.id), r->element[0]) < 0 ||
                 copy_field(u.email, sizeof(u.email), r->element[1]) < 0 ||
                 copy_field(u.name, sizeof(u.name), r->element[2]) < 0 ||
                 copy_field(u.pwhash, sizeof(u.pwhash), r->element[3]) < 0)
            st = STORE_ERROR;
    }
    op->cb.user(st, st == STORE_OK ? &u : NULL, op->arg);
    free(op);
}

int store_user_get(struct store *s, const char *email, store_user_fn *cb, void *arg) {
    char key[STORE_KEY_MAX];
    if (store_key_user(key, sizeof(key), email) < 0) return -1;
    struct store_op *op = op_new(arg);
    if (!op) return -1;
    op->cb.user = cb;
    const char *argv[] = {"HMGET", key, "id", "email", "name", "pw"};
    return send_op(s, op, on_user_got, PLAIN, 6, argv, NULL);
}

/* ---- sessions ---- */

static void on_status_reply(redisReply *r, void *arg) {
    struct store_op *op = arg;
    op->cb.status(status_of(r), op->arg);
    free(op);
}

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

/* A session being created: indexed first, then stored. */
struct session_create_op {
    struct store *s;
    store_status_fn *cb;
    void *arg;
    char key[STORE_KEY_MAX];  /* session:<hash> */
    char value[512];          /* the session's value */
    char ttl[16];             /* its lifetime in seconds */
};

static void on_forgotten(redisReply *r, void *arg) {
    (void)r;
    free(arg);
}

/* Deletes a session whose end nobody waits for (durably; errors ignored). */
static void session_drop(struct store *s, const char *token_hash) {
    char key[STORE_KEY_MAX];
    struct store_op *op = op_new(NULL);
    if (!op || store_key_session(key, sizeof(key), token_hash) < 0) {
        free(op);
        return;
    }
    const char *argv[] = {"DEL", key};
    send_op(s, op, on_forgotten, DURABLE, 2, argv, NULL);
}

static void on_session_stored(redisReply *r, void *arg) {
    struct session_create_op *op = arg;
    op->cb(status_of(r), op->arg);
    free(op);
}

static void on_session_indexed(redisReply *r, void *arg) {
    struct session_create_op *op = arg;
    enum store_status st = status_of(r);
    if (st == STORE_OK && r->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < r->elements; i++)
            if (r->element[i]->type == REDIS_REPLY_STRING) session_drop(op->s, r->element[i]->str);
    const char *argv[] = {"SET", op->key, op->value, "EX", op->ttl};
    size_t lens[] = {3, strlen(op->key), strlen(op->value), 2, strlen(op->ttl)};
    if (st != STORE_OK ||
        cluster_command_durable(op->s->cluster, op->key, lens[1], on_session_stored, op, 5, argv,
                                lens) < 0) {
        op->cb(st != STORE_OK ? st : STORE_UNAVAILABLE, op->arg);
        free(op);
    }
}

int store_session_create(struct store *s, const char *token_hash, const struct session_user *u,
                         int ttl, store_status_fn *cb, void *arg) {
    char index[STORE_KEY_MAX], now[24], max[16];
    struct session_create_op *op = calloc(1, sizeof(*op));
    if (!op) return -1;
    *op = (struct session_create_op){.s = s, .cb = cb, .arg = arg};
    int n = snprintf(op->value, sizeof(op->value), SESSION_FORMAT_TAG "\n%s\n%s\n%s", u->id,
                     u->email, u->name);
    if (n < 0 || (size_t)n >= sizeof(op->value) ||
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
    size_t lens[7];
    for (int i = 0; i < 7; i++) lens[i] = strlen(argv[i]);
    if (cluster_command_durable(s->cluster, index, lens[3], on_session_indexed, op, 7, argv,
                                lens) < 0) {
        free(op);
        return -1;
    }
    return 0;
}

/* Splits "v1\n<id>\n<email>\n<name>" into u; -1 when it is not that. */
static int session_parse(const char *v, size_t len, struct session_user *u) {
    const char *end = v + len, *field[4];
    size_t flen[4];
    for (int i = 0; i < 4; i++) {
        const char *nl = i < 3 ? memchr(v, '\n', (size_t)(end - v)) : end;
        if (!nl) return -1;
        field[i] = v;
        flen[i] = (size_t)(nl - v);
        v = nl + 1;
    }
    if (flen[0] != 2 || memcmp(field[0], SESSION_FORMAT_TAG, 2) != 0) return -1;
    if (flen[1] >= sizeof(u->id) || flen[2] >= sizeof(u->email) || flen[3] >= sizeof(u->name))
        return -1;
    memcpy(u->id, field[1], flen[1]);
    u->id[flen[1]] = '\0';
    memcpy(u->email, field[2], flen[2]);
    u->email[flen[2]] = '\0';
    memcpy(u->name, field[3], flen[3]);
    u->name[flen[3]] = '\0';
    return 0;
}

static void on_session_got(redisReply *r, void *arg) {
    struct store_op *op = arg;
    struct session_user u;
    enum store_status st = status_of(r);
    if (st == STORE_OK) {
        if (r->type == REDIS_REPLY_NIL) st = STORE_NOT_FOUND;
        else if (r->type != REDIS_REPLY_STRING || session_parse(r->str, r->len, &u) < 0)
            st = STORE_ERROR;
    }
    op->cb.session(st, st == STORE_OK ? &u : NULL, op->arg);
    free(op);
}

int store_session_get(struct store *s, const char *token_hash, int ttl, store_session_fn *cb,
                      void *arg) {
    char key[STORE_KEY_MAX], ttl_text[16];
    if (store_key_session(key, sizeof(key), token_hash) < 0) return -1;
    snprintf(ttl_text, sizeof(ttl_text), "%d", ttl);
    struct store_op *op = op_new(arg);
    if (!op) return -1;
    op->cb.session = cb;
    const char *argv[] = {"GETEX", key, "EX", ttl_text};
    return send_op(s, op, on_session_got, PLAIN, 4, argv, NULL);
}

/* A session being ended: GETDEL, then its entry in the user's index. */
struct session_end_op {
    struct store *s;
    store_status_fn *cb;
    void *arg;
    char hash[STORE_KEY_MAX]; /* the session's token hash */
};

static void on_unindexed(redisReply *r, void *arg) {
    struct session_end_op *op = arg;
    op->cb(status_of(r), op->arg);
    free(op);
}

/* Removes hash from user_id's session index (durably); -1 when it cannot be sent. */
static int session_unindex(struct store *s, const char *user_id, const char *hash,
                           cluster_reply_fn *done, void *arg) {
    char index[STORE_KEY_MAX];
    if (store_key_user_sessions(index, sizeof(index), user_id) < 0) return -1;
    const char *argv[] = {"ZREM", index, hash};
    size_t lens[] = {4, strlen(index), strlen(hash)};
    return cluster_command_durable(s->cluster, index, lens[1], done, arg, 3, argv, lens);
}

static void on_getdel(redisReply *r, void *arg) {
    struct session_end_op *op = arg;
    struct session_user u;
    enum store_status st = status_of(r);
    if (st == STORE_OK) {
        if (r->type == REDIS_REPLY_NIL) st = STORE_NOT_FOUND;
        else if (r->type != REDIS_REPLY_STRING || session_parse(r->str, r->len, &u) < 0)
            st = STORE_ERROR;
    }
    if (st == STORE_OK && session_unindex(op->s, u.id, op->hash, on_unindexed, op) == 0) return;
    op->cb(st == STORE_OK ? STORE_UNAVAILABLE : st, op->arg);
    free(op);
}

int store_session_delete(struct store *s, const char *token_hash, store_status_fn *cb,
                         void *arg) {
    char key[STORE_KEY_MAX];
    if (store_key_session(key, sizeof(key), token_hash) < 0) return -1;
    struct session_end_op *op = calloc(1, sizeof(*op));
    if (!op) return -1;
    *op = (struct session_end_op){.s = s, .cb = cb, .arg = arg};
    snprintf(op->hash, sizeof(op->hash), "%s", token_hash);
    const char *argv[] = {"GETDEL", key};
    size_t lens[] = {6, strlen(key)};
    if (cluster_command_durable(s->cluster, key, lens[1], on_getdel, op, 2, argv, lens) < 0) {
        free(op);
        return -1;
    }
    return 0;
}

/* Ending every session of a user but one: the index is read, then each
 * other session is deleted and, once it is gone, removed from the index. */
struct sessions_end_op {
    struct store *s;
    store_status_fn *cb;
    void *arg;
    char user_id[CHAT_USER_ID_LEN + 1]; /* whose sessions */
    char keep[STORE_KEY_MAX];           /* the hash of the session that stays */
    size_t pending;                     /* deletions not finished yet */
    enum store_status status;           /* STORE_OK until one fails */
};

/* One session of a sessions_end_op: DEL, then ZREM from the index. */
struct session_kill {
    struct sessions_end_op *all;
    char hash[STORE_KEY_MAX];
};

static void sessions_end_step_done(struct sessions_end_op *op, enum store_status st) {
    if (st != STORE_OK) op->status = st == STORE_NOT_FOUND ? op->status : st;
    if (--op->pending > 0) return;
    op->cb(op->status, op->arg);
    free(op);
}

static void on_kill_unindexed(redisReply *r, void *arg) {
    struct session_kill *k = arg;
    sessions_end_step_done(k->all, status_of(r));
    free(k);
}

static void on_kill_deleted(redisReply *r, void *arg) {
    struct session_kill *k = arg;
    enum store_status st = status_of(r);
    if (st == STORE_OK &&
        session_unindex(k->all->s, k->all->user_id, k->hash, on_kill_unindexed, k) == 0)
        return;
    sessions_end_step_done(k->all, st == STORE_OK ? STORE_UNAVAILABLE : st);
    free(k);
}

/* Starts ending one session; false when it could not be sent. */
static bool session_kill_start(struct sessions_end_op *op, const char *hash) {
    char key[STORE_KEY_MAX];
    struct session_kill *k = calloc(1, sizeof(*k));
    if (!k || store_key_session(key, sizeof(key), hash) < 0) {
        free(k);
        return false;
    }
    k->all = op;
    snprintf(k->hash, sizeof(k->hash), "%s", hash);
    const char *argv[] = {"DEL", key};
    size_t lens[] = {3, strlen(key)};
    if (cluster_command_durable(op->s->cluster, key, lens[1], on_kill_deleted, k, 2, argv, lens) <
        0) {
        free(k);
        return false;
    }
    return true;
}

static void on_index_read(redisReply *r, void *arg) {
    struct sessions_end_op *op = arg;
    enum store_status st = status_of(r);
    if (st == STORE_OK && r->type != REDIS_REPLY_ARRAY) st = STORE_ERROR;
    op->pending = 1; /* held until every deletion has started */
    op->status = st;
    for (size_t i = 0; st == STORE_OK && i < r->elements; i++) {
        const redisReply *h = r->element[i];
        if (h->type != REDIS_REPLY_STRING || strcmp(h->str, op->keep) == 0) continue;
        op->pending++;
        if (!session_kill_start(op, h->str)) {
            op->pending--;
            op->status = STORE_UNAVAILABLE;
        }
    }
    sessions_end_step_done(op, STORE_OK);
}

int store_sessions_end_others(struct store *s, const char *user_id, const char *keep_hash,
                              store_status_fn *cb, void *arg) {
    char index[STORE_KEY_MAX];
    if (store_key_user_sessions(index, sizeof(index), user_id) < 0) return -1;
    struct sessions_end_op *op = calloc(1, sizeof(*op));
    if (!op) return -1;
    *op = (struct sessions_end_op){.s = s, .cb = cb, .arg = arg};
    snprintf(op->user_id, sizeof(op->user_id), "%s", user_id);
    snprintf(op->keep, sizeof(op->keep), "%s", keep_hash);
    const char *argv[] = {"ZRANGE", index, "0", "-1"};
    size_t lens[] = {6, strlen(index), 1, 2};
    if (cluster_command_argv(s->cluster, index, lens[1], on_index_read, op, 4, argv, lens) < 0) {
        free(op);
        return -1;
    }
    return 0;
}

int store_user_set_password(struct store *s, const char *email, const char *pwhash,
                            store_status_fn *cb, void *arg) {
    char key[STORE_KEY_MAX];
    if (store_key_user(key, sizeof(key), email) < 0) return -1;
    struct store_op *op = op_new(arg);
    if (!op) return -1;
    op->cb.status = cb;
    const char *argv[] = {"HSET", key, "pw", pwhash};
    return send_op(s, op, on_status_reply, DURABLE, 4, argv, NULL);
}

/* ---- rate limits ---- */

/* A fixed window: the first hit starts the window (PX), each hit counts;
 * answers 0 while within the limit, else the ms until the window ends. */
static const char rate_hit_script[] =
    "local n = redis.call('INCR', KEYS[1])\n"
    "if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end\n"
    "if n <= tonumber(ARGV[1]) then return 0 end\n"
    "local ttl = redis.call('PTTL', KEYS[1])\n"
    "if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]); ttl = tonumber(ARGV[2]) end\n"
    "return ttl\n";

static void on_rate_hit(redisReply *r, void *arg) {
    struct store_op *op = arg;
    enum store_status st = status_of(r);
    long long retry_ms = 0;
    if (st == STORE_OK && r->type != REDIS_REPLY_INTEGER) st = STORE_ERROR;
    else if (st == STORE_OK) retry_ms = r->integer;
    op->cb.rate(st, retry_ms, op->arg);
    free(op);
}

int store_rate_hit(struct store *s, const char *limit, const char *subject, int count,
                   long long window_ms, store_rate_fn *cb, void *arg) {
    char key[STORE_KEY_MAX], count_text[16], window_text[24];
    if (store_key_rate(key, sizeof(key), limit, subject) < 0) return -1;
    snprintf(count_text, sizeof(count_text), "%d", count);
    snprintf(window_text, sizeof(window_text), "%lld", window_ms);
    struct store_op *op = op_new(arg);
    if (!op) return -1;
    op->cb.rate = cb;
    const char *argv[] = {"EVAL", rate_hit_script, "1", key, count_text, window_text};
    return send_op(s, op, on_rate_hit, PLAIN, 6, argv, NULL);
}

/* ---- messages ---- */

/* Fills m from one stream entry [id, [field, value, ...]]; -1 if malformed. */
static int entry_parse(const redisReply *e, struct message *m);

static void on_appended(redisReply *r, void *arg) {
    struct store_op *op = arg;
    enum store_status st = status_of(r);
    bool replayed = false;
    struct message stored;
    if (st == STORE_OK && r->type == REDIS_REPLY_STRING) { /* plain XADD: the new id */
        op->msg.id = r->str;
    } else if (st == STORE_OK && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
               r->element[1]->type == REDIS_REPLY_STRING) { /* script: {1, id} */
        op->msg.id = r->element[1]->str;
    } else if (st == STORE_OK && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
               entry_parse(r->element[1], &stored) == 0) { /* script: {0, first entry} */
        op->msg = stored;
        replayed = true;
    } else if (st == STORE_OK) {
        st = STORE_ERROR;
    }
    op->cb.message(st, st == STORE_OK ? &op->msg : NULL, replayed, op->arg);
    free(op);
}

/* Appends unless this user's client message id was seen in the last
 * STORE_DEDUP_TTL seconds; then returns the first message. One slot: the
 * stream and the dedup key share the room's hash tag. */
static const char append_once_script[] =
    "local prev = redis.call('GET', KEYS[2])\n"
    "if prev then\n"
    "  local e = redis.call('XRANGE', KEYS[1], prev, prev)\n"
    "  if #e == 1 then return {0, e[1]} end\n"
    "end\n"
    "local id = redis.call('XADD', KEYS[1], '*', 'userId', ARGV[1], 'name', ARGV[2],"
    " 'text', ARGV[3], 'timestamp', ARGV[4])\n"
    "redis.call('SET', KEYS[2], id, 'EX', ARGV[5])\n"
    "return {1, id}\n";

int store_message_append(struct store *s, const char *room, const struct message *m,
                         const char *client_msg_id, store_message_fn *cb, void *arg) {
    char key[STORE_KEY_MAX], dedup[STORE_KEY_MAX], ts[NUMFMT_MAX + 1], ttl[NUMFMT_MAX + 1];
    if (store_key_room_messages(key, sizeof(key), room) < 0) return -1;
    if (client_msg_id &&
        store_key_room_dedup(dedup, sizeof(dedup), room, m->user_id, client_msg_id) < 0)
        return -1;
    *numfmt_decimal(ts, m->timestamp) = '\0'; /* no printf for every message sent */
    *numfmt_decimal(ttl, STORE_DEDUP_TTL) = '\0';
    struct store_op *op = op_new(arg);
    if (!op) return -1;
    op->cb.message = cb;
    op->msg = *m;
    if (!client_msg_id) {
        const char *argv[] = {"XADD", key, "*", "userId", m->user_id, "name", m->name,
                              "text", m->text, "timestamp", ts};
        size_t lens[11];
        for (int i = 0; i < 11; i++) lens[i] = i == 8 ? m->text_len : strlen(argv[i]);
        return send_op(s, op, on_appended, DURABLE, 11, argv, lens);
    }
    const char *argv[] = {"EVAL", append_once_script, "2", key, dedup, m->user_id,
                          m->name, m->text, ts, ttl};
    size_t lens[10];
    for (int i = 0; i < 10; i++) lens[i] = i == 7 ? m->text_len : strlen(argv[i]);
    return send_op(s, op, on_appended, DURABLE, 10, argv, lens);
}

/* Whether field k is name (as strcmp sees it: up to its first NUL). */
static bool field_is(const redisReply *k, const char *name, size_t len) {
    return k->len >= len && memcmp(k->str, name, len + 1) == 0;
}

/* A timestamp field: the digits chatd writes, read without strtoll (which
 * reads anything else, as before). */
static long long timestamp_of(const redisReply *v) {
    long long t = 0;
    size_t i = 0;
    for (; i < v->len && i < 18 && v->str[i] >= '0' && v->str[i] <= '9'; i++)
        t = t * 10 + (v->str[i] - '0');
    return i > 0 && i == v->len ? t : strtoll(v->str, NULL, 10);
}

/* Fills m from one stream entry [id, [field, value, ...]]; -1 if malformed. */
static int entry_parse(const redisReply *e, struct message *m) {
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY)
        return -1;
    memset(m, 0, sizeof(*m));
    m->id = e->element[0]->str;
    const redisReply *f = e->element[1];
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) return -1;
        if (field_is(k, "userId", 6)) m->user_id = v->str;
        else if (field_is(k, "name", 4)) m->name = v->str;
        else if (field_is(k, "text", 4)) m->text = v->str, m->text_len = v->len;
        else if (field_is(k, "timestamp", 9)) m->timestamp = timestamp_of(v);
    }
    return m->user_id && m->name && m->text ? 0 : -1;
}

/* Hands the entries of a stream reply (an array of entries, or NULL for
 * none) to the op's range callback and frees the op. */
static void deliver_entries(struct store_op *op, enum store_status st, const redisReply *entries) {
    struct message *msgs = NULL;
    size_t n = 0;
    if (st == STORE_OK && entries && entries->type != REDIS_REPLY_ARRAY) st = STORE_ERROR;
    if (st == STORE_OK && entries && entries->elements > 0) {
        /* not zeroed: entry_parse fills each */
        msgs = entries->elements <= SIZE_MAX / sizeof(*msgs)
                   ? malloc(entries->elements * sizeof(*msgs))
                   : NULL;
        if (!msgs) st = STORE_ERROR;
        for (size_t i = 0; msgs && i < entries->elements; i++)
            if (entry_parse(entries->element[i], &msgs[n]) == 0) n++;
    }
    op->cb.range(st, msgs, n, op->arg);
    free(msgs);
    free(op);
}

static void on_range(redisReply *r, void *arg) { deliver_entries(arg, status_of(r), r); }

/* XREVRANGE answers newest first: turn the entries around in place. */
static void on_reverse_range(redisReply *r, void *arg) {
    if (r && r->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0, j = r->elements; i + 1 < j; i++, j--) {
            redisReply *t = r->element[i];
            r->element[i] = r->element[j - 1];
            r->element[j - 1] = t;
        }
    deliver_entries(arg, status_of(r), r);
}

int store_history_before(struct store *s, const char *room, const char *before, int count,
                         store_range_fn *cb, void *arg) {
    char key[STORE_KEY_MAX], end[64], count_text[16];
    if (store_key_room_messages(key, sizeof(key), room) < 0) return -1;
    snprintf(end, sizeof(end), "(%s", before);
    snprintf(count_text, sizeof(count_text), "%d", count);
    struct store_op *op = op_new(arg);
    if (!op) return -1;
    op->cb.range = cb;
    const char *argv[] = {"XREVRANGE", key, end, "-", "COUNT", count_text};
    return send_op(s, op, on_reverse_range, PLAIN, 6, argv, NULL);
}

/* XREAD answers nil when the block time passed, else [[key, [entries]]]. */
static void on_read(redisReply *r, void *arg) {
    enum store_status st = status_of(r);
    const redisReply *entries = NULL;
    if (st == STORE_OK && r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2)
        entries = r->element[0]->element[1];
    else if (st == STORE_OK && r->type != REDIS_REPLY_NIL)
        st = STORE_ERROR;
    deliver_entries(arg, st, entries);
}

int store_room_read(struct store *s, const char *room, const char *after, int count,
                    int block_ms, int timeout_ms, store_range_fn *cb, void *arg) {
    char key[STORE_KEY_MAX], count_text[16], block_text[16];
    if (store_key_room_messages(key, sizeof(key), room) < 0) return -1;
    snprintf(count_text, sizeof(count_text), "%d", count);
    snprintf(block_text, sizeof(block_text), "%d", block_ms);
    struct store_op *op = op_new(arg);
    if (!op) return -1;
    op->cb.range = cb;
    const char *argv[] = {"XREAD", "COUNT", count_text, "BLOCK", block_text, "STREAMS", key, after};
    if (cluster_command_blocking(s->cluster, key, strlen(key), timeout_ms, on_read, op, 8, argv,
                                 NULL) < 0) {
        free(op);
        return -1;
    }
    return 0;
}

int store_room_latest(struct store *s, const char *room, store_range_fn *cb, void *arg) {
    char key[STORE_KEY_MAX];
    if (store_key_room_messages(key, sizeof(key), room) < 0) return -1;
    struct store_op *op = op_new(arg);
    if (!op) return -1;
    op->cb.range = cb;
    const char *argv[] = {"XREVRANGE", key, "+", "-", "COUNT", "1"};
    return send_op(s, op, on_range, PLAIN, 6, argv, NULL);
}

int store_history_range(struct store *s, const char *room, const char *after, int count,
                        store_range_fn *cb, void *arg) {
    char key[STORE_KEY_MAX], start[64], count_text[16];
    if (store_key_room_messages(key, sizeof(key), room) < 0) return -1;
    if (after) snprintf(start, sizeof(start), "(%s", after);
    else snprintf(start, sizeof(start), "-");
    snprintf(count_text, sizeof(count_text), "%d", count);
    struct store_op *op = op_new(arg);
    if (!op) return -1;
    op->cb.range = cb;
    const char *argv[] = {"XRANGE", key, start, "+", "COUNT", count_text};
    return send_op(s, op, on_range, PLAIN, 6, argv, NULL);
}

static void on_pong(redisReply *r, void *arg) { on_status_reply(r, arg); }

int store_ping(struct store *s, store_status_fn *cb, void *arg) {
    struct store_op *op = op_new(arg);
    if (!op) return -1;
    op->cb.status = cb;
    const char *argv[] = {"PING", "health"};
    return send_op(s, op, on_pong, PLAIN, 2, argv, NULL);
}

static void on_cluster_info(redisReply *r, void *arg) {
    struct store_op *op = arg;
    enum store_status st = STORE_UNAVAILABLE;
    if (r && r->type == REDIS_REPLY_ERROR && strstr(r->str, "cluster support disabled"))
        st = STORE_OK; /* a standalone Redis that answers */
    else if (r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) &&
             strstr(r->str, "cluster_state:ok"))
        st = STORE_OK;
    op->cb.status(st, op->arg);
    free(op);
}

int store_ready(struct store *s, store_status_fn *cb, void *arg) {
    struct store_op *op = op_new(arg);
    if (!op) return -1;
    op->cb.status = cb;
    const char *argv[] = {"CLUSTER", "INFO"};
    return send_op(s, op, on_cluster_info, PLAIN, 2, argv, NULL);
}

static void on_room_added(redisReply *r, void *arg) {
    struct store_op *op = arg;
    enum store_status st = status_of(r);
    if (st == STORE_OK && r->type == REDIS_REPLY_INTEGER && r->integer == 0) st = STORE_EXISTS;
    op->cb.status(st, op->arg);
    free(op);
}

int store_room_add(struct store *s, const char *room, store_status_fn *cb, void *arg) {
    struct store_op *op = op_new(arg);
    if (!op) return -1;
    op->cb.status = cb;
    const char *argv[] = {"SADD", STORE_KEY_ROOMS, room};
    return send_op(s, op, on_room_added, DURABLE, 3, argv, NULL);
}

static void on_room_list(redisReply *r, void *arg) {
    struct store_op *op = arg;
    enum store_status st = status_of(r);
    const char **names = NULL;
    size_t n = 0;
    if (st == STORE_OK && r->type != REDIS_REPLY_ARRAY) st = STORE_ERROR;
    if (st == STORE_OK && r->elements && !(names = calloc(r->elements, sizeof(*names))))
        st = STORE_ERROR;
    for (size_t i = 0; st == STORE_OK && i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING) names[n++] = r->element[i]->str;
    op->cb.names(st, names, n, op->arg);
    free(names);
    free(op);
}

int store_room_list(struct store *s, store_names_fn *cb, void *arg) {
    struct store_op *op = op_new(arg);
    if (!op) return -1;
    op->cb.names = cb;
    const char *argv[] = {"SMEMBERS", STORE_KEY_ROOMS};
    return send_op(s, op, on_room_list, PLAIN, 2, argv, NULL);
}
