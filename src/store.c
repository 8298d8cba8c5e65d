/* store: user, rate-limit and message commands on the key schema of
 * store_keys.h (the session commands are in store_session.c). */
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
#include "store_private.h"

/* A new password and the next password version, together. */
static const char set_password_script[] =
    "redis.call('HSET', KEYS[1], 'pw', ARGV[1])\n"
    "return redis.call('HINCRBY', KEYS[1], 'pv', 1)\n";

/* Creates the user hash only when the key does not exist yet: one slot, atomic. */
static const char user_create_script[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'id', ARGV[1], 'email', ARGV[2], 'name', ARGV[3],"
    " 'pw', ARGV[4], 'created', ARGV[5])\n"
    "return 1\n";

/* One command in flight: the caller's callback and what the reply needs. */
struct store_op {
    union {
        store_status_fn *status;
        store_user_fn *user;
        store_message_fn *message;
        store_range_fn *range;
        store_rate_fn *rate;
    } cb;
    void *arg;
    struct message msg; /* for appends: the caller's message, id filled in */
};

struct store *store_new(struct event_base *base, struct cluster *cluster,
                        struct session_cache *sessions) {
    struct store *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    *s = (struct store){.cluster = cluster, .base = base, .sessions = sessions};
    if (store_sessions_init(s) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

void store_free(struct store *s) {
    if (!s) return;
    store_sessions_cleanup(s);
    free(s);
}

static struct store_op *op_new(void *arg) {
    struct store_op *op = calloc(1, sizeof(*op));
    if (op) op->arg = arg;
    return op;
}

int store_command(struct store *s, enum store_ack ack, const char *key, cluster_reply_fn *done,
                  void *arg, int argc, const char **argv, const size_t *lens) {
    return ack == STORE_ACK_DURABLE
               ? cluster_command_durable(s->cluster, key, strlen(key), done, arg, argc, argv, lens)
               : cluster_command_argv(s->cluster, key, strlen(key), done, arg, argc, argv, lens);
}

/* Sends a command for op (freed when it cannot be sent). */
static int send_op(struct store *s, struct store_op *op, cluster_reply_fn *done,
                   enum store_ack ack, const char *key, int argc, const char **argv,
                   const size_t *lens) {
    if (store_command(s, ack, key, done, op, argc, argv, lens) < 0) {
        free(op);
        return -1;
    }
    return 0;
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
    return send_op(s, op, on_user_created, STORE_ACK_DURABLE, key, 9, argv, NULL);
}

long long store_password_version_of(const redisReply *r) {
    if (r->type == REDIS_REPLY_INTEGER) return r->integer;
    return r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
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
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 6) st = STORE_ERROR;
        else if (r->element[0]->type == REDIS_REPLY_NIL) st = STORE_NOT_FOUND;
        else if (copy_field(u.id, sizeof(u.id), r->element[0]) < 0 ||
                 copy_field(u.email, sizeof(u.email), r->element[1]) < 0 ||
                 copy_field(u.name, sizeof(u.name), r->element[2]) < 0 ||
                 (r->element[3]->type != REDIS_REPLY_NIL && /* none: a token user */
                  copy_field(u.pwhash, sizeof(u.pwhash), r->element[3]) < 0))
            st = STORE_ERROR;
        else { /* none before the first change */
            if (r->element[3]->type == REDIS_REPLY_NIL) u.pwhash[0] = '\0';
            u.password_version = store_password_version_of(r->element[4]);
            u.locked = r->element[5]->type == REDIS_REPLY_STRING;
        }
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
    const char *argv[] = {"HMGET", key, "id", "email", "name", "pw", "pv", "locked"};
    return send_op(s, op, on_user_got, STORE_ACK_PLAIN, key, 8, argv, NULL);
}

static void on_status_reply(redisReply *r, void *arg) {
    struct store_op *op = arg;
    op->cb.status(status_of(r), op->arg);
    free(op);
}

int store_user_set_password(struct store *s, const char *email, const char *pwhash,
                            store_status_fn *cb, void *arg) {
    char key[STORE_KEY_MAX];
    if (store_key_user(key, sizeof(key), email) < 0) return -1;
    struct store_op *op = op_new(arg);
    if (!op) return -1;
    op->cb.status = cb;
    const char *argv[] = {"EVAL", set_password_script, "1", key, pwhash};
    return send_op(s, op, on_status_reply, STORE_ACK_DURABLE, key, 5, argv, NULL);
}

/* Deletes the record when it is still the user's with that id (a later
 * registration of the address is another user). */
static const char user_delete_script[] =
    "if redis.call('HGET', KEYS[1], 'id') == ARGV[1] then redis.call('DEL', KEYS[1]) end\n"
    "return 1\n";

/* The second step of store_user_delete: the user-id index, in its own slot. */
struct user_delete_op {
    struct store *s;
    char id_key[STORE_KEY_MAX];
    store_status_fn *cb;
    void *arg;
};

static void on_user_id_deleted(redisReply *r, void *arg) {
    struct user_delete_op *op = arg;
    op->cb(status_of(r), op->arg);
    free(op);
}

static void on_user_deleted(redisReply *r, void *arg) {
    struct user_delete_op *op = arg;
    enum store_status st = status_of(r);
    const char *argv[] = {"DEL", op->id_key};
    if (st == STORE_OK && store_command(op->s, STORE_ACK_DURABLE, op->id_key, on_user_id_deleted,
                                        op, 2, argv, NULL) == 0)
        return;
    op->cb(st == STORE_OK ? STORE_UNAVAILABLE : st, op->arg);
    free(op);
}

int store_user_delete(struct store *s, const char *email, const char *user_id,
                      store_status_fn *cb, void *arg) {
    char key[STORE_KEY_MAX];
    struct user_delete_op *op = calloc(1, sizeof(*op));
    if (!op) return -1;
    *op = (struct user_delete_op){.s = s, .cb = cb, .arg = arg};
    const char *argv[] = {"EVAL", user_delete_script, "1", key, user_id};
    if (store_key_user(key, sizeof(key), email) < 0 ||
        store_key_user_id(op->id_key, sizeof(op->id_key), user_id) < 0 ||
        store_command(s, STORE_ACK_DURABLE, key, on_user_deleted, op, 5, argv, NULL) < 0) {
        free(op);
        return -1;
    }
    return 0;
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
    return send_op(s, op, on_rate_hit, STORE_ACK_PLAIN, key, 6, argv, NULL);
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
    } else if (st == STORE_OK && r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
               r->element[0]->type == REDIS_REPLY_INTEGER && r->element[0]->integer == -2) {
        st = STORE_NOT_FOUND; /* a reply to no message of the room */
    } else if (st == STORE_OK && r->type == REDIS_REPLY_ARRAY && r->elements == 4 &&
               r->element[1]->type == REDIS_REPLY_STRING &&
               r->element[2]->type == REDIS_REPLY_STRING &&
               r->element[3]->type == REDIS_REPLY_STRING) { /* reply: {1, id, name, text} */
        op->msg.id = r->element[1]->str;
        op->msg.quote_name = r->element[2]->str;
        op->msg.quote_text = r->element[3]->str, op->msg.quote_len = r->element[3]->len;
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
 * stream, the dedup key and the room's retention (KEYS[3]) share the
 * room's hash tag. An append trims the stream by the room's retention, or
 * the server's (ARGV[6], ARGV[7]). */
static const char append_once_script[] = STORE_TRIM_LUA
    "local prev = redis.call('GET', KEYS[2])\n"
    "if prev then\n"
    "  local e = redis.call('XRANGE', KEYS[1], prev, prev)\n"
    "  if #e == 1 then return {0, e[1]} end\n"
    "end\n"
    "local id = redis.call('XADD', KEYS[1], '*', 'userId', ARGV[1], 'name', ARGV[2],"
    " 'text', ARGV[3], 'timestamp', ARGV[4])\n"
    "redis.call('SET', KEYS[2], id, 'EX', ARGV[5])\n"
    "trim(KEYS[1], KEYS[3], ARGV[4], ARGV[6], ARGV[7])\n"
    "return {1, id}\n";

/* A reply: as append_once_script when ARGV[9] is "1" (else KEYS[2] is
 * unused), and only when the stream holds message ARGV[8] (never a room
 * event): the reply keeps its id and a quote of it, its author's name and
 * the first ARGV[10] characters of its latest text (KEYS[4], the edits
 * hash). {1, id, quote name, quote text}; {0, first entry}; {-2} no such
 * message. */
static const char append_reply_script[] = STORE_TRIM_LUA
    "if ARGV[9] == '1' then\n"
    "  local prev = redis.call('GET', KEYS[2])\n"
    "  if prev then\n"
    "    local e = redis.call('XRANGE', KEYS[1], prev, prev)\n"
    "    if #e == 1 then return {0, e[1]} end\n"
    "  end\n"
    "end\n"
    "local t = redis.call('XRANGE', KEYS[1], ARGV[8], ARGV[8])\n"
    "if #t == 0 then return {-2} end\n"
    "local f, qname, qtext = t[1][2], '', ''\n"
    "for i = 1, #f, 2 do\n"
    "  if f[i] == 'event' then return {-2} end\n"
    "  if f[i] == 'name' then qname = f[i + 1] elseif f[i] == 'text' then qtext = f[i + 1] end\n"
    "end\n"
    "local ed = redis.call('HGET', KEYS[4], ARGV[8])\n"
    "if ed then qtext = string.sub(ed, (string.find(ed, ':', 1, true) or 0) + 1) end\n"
    "local i, n, max = 1, 0, tonumber(ARGV[10])\n"
    "while i <= #qtext and n < max do\n"
    "  local c = string.byte(qtext, i)\n"
    "  i = i + (c < 0x80 and 1 or c < 0xE0 and 2 or c < 0xF0 and 3 or 4)\n"
    "  n = n + 1\n"
    "end\n"
    "qtext = string.sub(qtext, 1, i - 1)\n"
    "local id = redis.call('XADD', KEYS[1], '*', 'userId', ARGV[1], 'name', ARGV[2],"
    " 'text', ARGV[3], 'timestamp', ARGV[4], 'replyTo', ARGV[8], 'quoteName', qname,"
    " 'quoteText', qtext)\n"
    "if ARGV[9] == '1' then redis.call('SET', KEYS[2], id, 'EX', ARGV[5]) end\n"
    "trim(KEYS[1], KEYS[3], ARGV[4], ARGV[6], ARGV[7])\n"
    "return {1, id, qname, qtext}\n";

static void on_rung(redisReply *r, void *arg) { (void)r, (void)arg; }

/* The same slot, so the same master connection carries the ring behind
 * the append (and its WAIT), and the send's acknowledgement waits for no
 * extra round trip. A lost ring costs the readers latency only, never a
 * message. */
void store_ring_doorbell(struct store *s, const char *room) {
    char channel[STORE_KEY_MAX];
    if (store_key_room_doorbell(channel, sizeof(channel), room) < 0) return;
    const char *argv[] = {"SPUBLISH", channel, ""};
    store_command(s, STORE_ACK_PLAIN, channel, on_rung, NULL, 3, argv, NULL);
}

/* Sends the append (freeing op when it cannot), then rings the doorbell. */
static int send_append(struct store *s, struct store_op *op, const char *room, const char *key,
                       int argc, const char **argv, const size_t *lens) {
    if (send_op(s, op, on_appended, STORE_ACK_DURABLE, key, argc, argv, lens) < 0) return -1;
    store_ring_doorbell(s, room);
    return 0;
}

/* The append of a reply (op->msg names the message it answers): one
 * script reads the quote, dedup (NULL: no client message id) as for
 * append_once_script. */
static int append_reply(struct store *s, struct store_op *op, const char *room, const char *key,
                        const char *dedup, const char *policy, const char *ts, const char *ttl) {
    char edits[STORE_KEY_MAX], quote_max[16];
    if (store_key_room_edits(edits, sizeof(edits), room) < 0) {
        free(op);
        return -1;
    }
    snprintf(quote_max, sizeof(quote_max), "%d", STORE_QUOTE_CHARS);
    const struct message *m = &op->msg;
    struct store_trim trim = store_trim_of(s);
    const char *argv[] = {"EVAL", append_reply_script, "4", key, dedup ? dedup : key, policy,
                          edits, m->user_id, m->name, m->text, ts, ttl, trim.max_messages,
                          trim.max_age, m->reply_to, dedup ? "1" : "0", quote_max};
    size_t lens[17];
    for (int i = 0; i < 17; i++) lens[i] = i == 9 ? m->text_len : strlen(argv[i]);
    return send_append(s, op, room, key, 17, argv, lens);
}

int store_message_append(struct store *s, const char *room, const struct message *m,
                         const char *client_msg_id, store_message_fn *cb, void *arg) {
    char key[STORE_KEY_MAX], dedup[STORE_KEY_MAX], policy[STORE_KEY_MAX], ts[NUMFMT_MAX + 1],
        ttl[NUMFMT_MAX + 1];
    if (store_key_room_messages(key, sizeof(key), room) < 0 ||
        store_key_room_retention(policy, sizeof(policy), room) < 0)
        return -1;
    if (client_msg_id &&
        store_key_room_dedup(dedup, sizeof(dedup), room, m->user_id, client_msg_id) < 0)
        return -1;
    *numfmt_decimal(ts, m->timestamp) = '\0'; /* no printf for every message sent */
    *numfmt_decimal(ttl, STORE_DEDUP_TTL) = '\0';
    struct store_op *op = op_new(arg);
    if (!op) return -1;
    op->cb.message = cb;
    op->msg = *m;
    if (m->reply_to) return append_reply(s, op, room, key, client_msg_id ? dedup : NULL, policy, ts, ttl);
    if (!client_msg_id) {
        const char *argv[] = {"XADD", key, "*", "userId", m->user_id, "name", m->name,
                              "text", m->text, "timestamp", ts};
        size_t lens[11];
        for (int i = 0; i < 11; i++) lens[i] = i == 8 ? m->text_len : strlen(argv[i]);
        if (send_append(s, op, room, key, 11, argv, lens) < 0) return -1;
        store_trim_sometimes(s, room, ts);
        return 0;
    }
    struct store_trim trim = store_trim_of(s);
    const char *argv[] = {"EVAL", append_once_script, "3", key, dedup, policy, m->user_id,
                          m->name, m->text, ts, ttl, trim.max_messages, trim.max_age};
    size_t lens[13];
    for (int i = 0; i < 13; i++) lens[i] = i == 8 ? m->text_len : strlen(argv[i]);
    return send_append(s, op, room, key, 13, argv, lens);
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
        else if (field_is(k, "event", 5)) m->event = v->str;
        else if (field_is(k, "target", 6)) m->target = v->str;
        else if (field_is(k, "role", 4)) m->role = v->str;
        else if (field_is(k, "action", 6)) m->action = v->str;
        else if (field_is(k, "replyTo", 7)) m->reply_to = v->str;
        else if (field_is(k, "quoteName", 9)) m->quote_name = v->str;
        else if (field_is(k, "quoteText", 9)) m->quote_text = v->str, m->quote_len = v->len;
    }
    return m->user_id && m->name && m->text ? 0 : -1;
}

/* Puts a latest edit "<ms>:<text>" (a nil or malformed one changes nothing). */
static void apply_edit(struct message *m, const redisReply *edit) {
    if (!edit || edit->type != REDIS_REPLY_STRING || m->event) return;
    const char *colon = memchr(edit->str, ':', edit->len);
    if (!colon || colon == edit->str) return;
    m->edited = strtoll(edit->str, NULL, 10);
    m->text = colon + 1;
    m->text_len = edit->len - (size_t)(colon + 1 - edit->str);
}

/* Puts a message's reactions and the reader's own (nil: none). */
static void apply_reactions(struct message *m, const redisReply *counts, const redisReply *mine) {
    if (m->event) return;
    if (!counts || counts->type != REDIS_REPLY_STRING) return; /* none */
    m->reactions = counts->str, m->reactions_len = counts->len;
    if (mine && mine->type == REDIS_REPLY_STRING) m->mine = mine->str, m->mine_len = mine->len;
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

static void reverse(redisReply *r) {
    if (r && r->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0, j = r->elements; i + 1 < j; i++, j--) {
            redisReply *t = r->element[i];
            r->element[i] = r->element[j - 1];
            r->element[j - 1] = t;
        }
}

/* A page in flight: an EXISTS of the room's edits hash (which holds its
 * reactions too) and the plain range, pipelined on the room's connection
 * (one round trip, no script); only when the hash exists (or EXISTS did
 * not answer first) is one HMGET of the page's fields sent, which answers
 * their latest edits and, for a reader's page, their reactions. */
struct page_op {
    struct store *s;
    struct store_op *op; /* the caller's callback; NULL once handed on */
    int pending;         /* replies still to come */
    int has_edits;       /* -1 until EXISTS answered */
    struct message *msgs; /* the page kept while its edits are read (n of them), */
    size_t n;
    char *strings;        /* their strings, copied into one block */
    bool newest_first;
    size_t stride;       /* fields read per entry: 1 edits, 2 + reactions, 3 + the reader's */
    char viewer[CHAT_USER_ID_LEN + 1]; /* the reader ("" anonymous), for stride 3 */
    char count[16], key[STORE_KEY_MAX], edits[STORE_KEY_MAX], start[64], end[64];
};

static void page_release(struct page_op *p) {
    if (--p->pending > 0) return;
    free(p->msgs);
    free(p->strings);
    free(p->op);
    free(p);
}

static void on_edits_checked(redisReply *r, void *arg) {
    struct page_op *p = arg;
    /* an error: read with the script, which says what went wrong */
    p->has_edits = status_of(r) == STORE_OK && r->type == REDIS_REPLY_INTEGER ? r->integer != 0 : 1;
    page_release(p);
}

/* The page's latest edits came: each message of the kept page with its
 * own edit and, for stride 2 and 3, its reactions and the reader's. */
static void on_page_edits(redisReply *r, void *arg) {
    struct page_op *p = arg;
    enum store_status st = status_of(r);
    bool fits = st == STORE_OK && r->type == REDIS_REPLY_ARRAY && r->elements == p->n * p->stride;
    for (size_t i = 0; fits && i < p->n; i++) {
        redisReply *const *f = r->element + i * p->stride;
        apply_edit(&p->msgs[i], f[0]);
        if (p->stride > 1) apply_reactions(&p->msgs[i], f[1], p->stride > 2 ? f[2] : NULL);
    }
    p->op->cb.range(st, st == STORE_OK ? p->msgs : NULL, st == STORE_OK ? p->n : 0, p->op->arg);
    page_release(p);
}

/* The strings of m (pointers to its fields) and their lengths: the
 * fields a kept page copies. */
#define MESSAGE_STRINGS 11
static void message_strings(struct message *m, const char **f[MESSAGE_STRINGS],
                            size_t len[MESSAGE_STRINGS]) {
    const char **all[MESSAGE_STRINGS] = {&m->id,     &m->user_id, &m->name,      &m->text,
                                         &m->event,  &m->target,  &m->role,      &m->action,
                                         &m->reply_to, &m->quote_name, &m->quote_text};
    for (size_t i = 0; i < MESSAGE_STRINGS; i++) {
        f[i] = all[i];
        len[i] = !*all[i] ? 0 : i == 3 ? m->text_len : i == 10 ? m->quote_len : strlen(*all[i]);
    }
}

/* Keeps the messages of page r past its callback: parsed, their strings
 * copied into one block (a few KB, where a copy of the reply's objects
 * took thousands of allocations); -1 when out of memory. */
static int page_keep(struct page_op *p, const redisReply *r) {
    const char **f[MESSAGE_STRINGS];
    size_t len[MESSAGE_STRINGS], total = 1;
    p->msgs = calloc(r->elements, sizeof(*p->msgs));
    for (size_t i = 0; p->msgs && i < r->elements; i++) {
        if (entry_parse(r->element[i], &p->msgs[p->n]) < 0) continue;
        message_strings(&p->msgs[p->n++], f, len);
        for (size_t k = 0; k < MESSAGE_STRINGS; k++) total += *f[k] ? len[k] + 1 : 0;
    }
    char *at = p->msgs ? (p->strings = malloc(total)) : NULL;
    for (size_t i = 0; at && i < p->n; i++) {
        message_strings(&p->msgs[i], f, len);
        for (size_t k = 0; k < MESSAGE_STRINGS; k++) {
            if (!*f[k]) continue;
            memcpy(at, *f[k], len[k]);
            at[len[k]] = '\0';
            *f[k] = at;
            at += len[k] + 1;
        }
    }
    return at ? 0 : -1;
}

/* Bytes of the reaction fields of one entry: "<id>/r" and
 * "<id>/m/<reader>", each with its NUL. */
#define REACTION_FIELDS_MAX (2 * CHAT_STREAM_ID_MAX + CHAT_USER_ID_LEN + 8)

/* Fills the HMGET fields of the page's entries: per entry its id (the
 * latest edit), then for stride 2 and 3 "<id>/r" (its reactions) and for
 * stride 3 "<id>/m/<reader>" (the reader's), written into names. */
static void page_fields(const struct page_op *p, const char **argv, char *names) {
    for (size_t i = 0; i < p->n; i++) {
        const char *id = p->msgs[i].id; /* a stream id: at most CHAT_STREAM_ID_MAX */
        const char **f = argv + i * p->stride;
        f[0] = id;
        if (p->stride < 2) continue;
        char *r = names + i * REACTION_FIELDS_MAX;
        f[1] = r;
        int len = snprintf(r, REACTION_FIELDS_MAX, "%s/r", id);
        if (p->stride > 2) {
            f[2] = r + len + 1;
            snprintf(r + len + 1, REACTION_FIELDS_MAX - (size_t)len - 1, "%s/m/%s", id, p->viewer);
        }
    }
}

/* Keeps the page and asks for its entries' latest edits and reactions
 * (one HMGET of their fields in the edits hash: one more round trip, no
 * read per message). */
static void page_with_edits(struct page_op *p, const redisReply *r) {
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        deliver_entries(p->op, STORE_OK, r);
        p->op = NULL;
        return;
    }
    const char **argv = NULL;
    char *names = NULL;
    if (page_keep(p, r) == 0 && p->n > 0) {
        argv = calloc(p->n * p->stride + 2, sizeof(*argv));
        names = p->stride > 1 ? malloc(p->n * REACTION_FIELDS_MAX) : NULL;
    }
    if (!argv || (p->stride > 1 && !names)) {
        free(argv);
        free(names);
        deliver_entries(p->op, p->msgs && p->n == 0 ? STORE_OK : STORE_ERROR, NULL);
        p->op = NULL;
        return;
    }
    argv[0] = "HMGET", argv[1] = p->edits;
    page_fields(p, argv + 2, names);
    p->pending++;
    if (store_command(p->s, STORE_ACK_PLAIN, p->edits, on_page_edits, p,
                      (int)(p->n * p->stride) + 2, argv, NULL) < 0) {
        p->pending--;
        deliver_entries(p->op, STORE_UNAVAILABLE, NULL);
        p->op = NULL;
    }
    free(argv);
    free(names);
}

static void on_plain_page(redisReply *r, void *arg) {
    struct page_op *p = arg;
    enum store_status st = status_of(r);
    if (p->newest_first) reverse(r);
    if (st != STORE_OK || p->has_edits == 0) {
        deliver_entries(p->op, st, r);
        p->op = NULL;
    } else {
        page_with_edits(p, r);
    }
    page_release(p);
}

/* Sends the page for op over the room's stream (freeing op when it
 * cannot); reader as for store_history_page. */
static int send_page(struct store *s, struct store_op *op, const char *room, bool newest_first,
                     const char *start, const char *end, int count,
                     const struct store_reader *reader) {
    struct page_op *p = calloc(1, sizeof(*p));
    if (p) *p = (struct page_op){.s = s, .op = op, .pending = 2, .has_edits = -1,
                                 .newest_first = newest_first, .stride = 1};
    if (p && reader) {
        p->stride = reader->user_id && reader->user_id[0] ? 3 : 2;
        if (p->stride == 3) snprintf(p->viewer, sizeof(p->viewer), "%s", reader->user_id);
    }
    if (!p || store_key_room_messages(p->key, sizeof(p->key), room) < 0 ||
        store_key_room_edits(p->edits, sizeof(p->edits), room) < 0) {
        free(p);
        free(op);
        return -1;
    }
    snprintf(p->count, sizeof(p->count), "%d", count);
    snprintf(p->start, sizeof(p->start), "%s", start);
    snprintf(p->end, sizeof(p->end), "%s", end);
    const char *exists[] = {"EXISTS", p->edits};
    const char *range[] = {newest_first ? "XREVRANGE" : "XRANGE", p->key, p->start, p->end,
                           "COUNT", p->count};
    if (store_command(s, STORE_ACK_PLAIN, p->edits, on_edits_checked, p, 2, exists, NULL) < 0) {
        free(p);
        free(op);
        return -1;
    }
    if (store_command(s, STORE_ACK_PLAIN, p->key, on_plain_page, p, 6, range, NULL) < 0) {
        p->op = NULL; /* the caller hears of it from the -1 */
        free(op);
        page_release(p);
        return -1;
    }
    return 0;
}

int store_history_before(struct store *s, const char *room, const char *before, int count,
                         store_range_fn *cb, void *arg) {
    return store_history_page(s, room, NULL, NULL, before, count, cb, arg);
}

int store_history_page(struct store *s, const char *room, const struct store_reader *reader,
                       const char *after, const char *before, int count, store_range_fn *cb,
                       void *arg) {
    char start[64], end[64];
    if (before) snprintf(end, sizeof(end), "(%s", before);
    else if (after) snprintf(start, sizeof(start), "(%s", after);
    else snprintf(start, sizeof(start), "-");
    struct store_op *op = op_new(arg);
    if (!op) return -1;
    op->cb.range = cb;
    if (before) return send_page(s, op, room, true, end, "-", count, reader);
    return send_page(s, op, room, false, start, "+", count, reader);
}

int store_room_latest(struct store *s, const char *room, store_range_fn *cb, void *arg) {
    char key[STORE_KEY_MAX];
    if (store_key_room_messages(key, sizeof(key), room) < 0) return -1;
    struct store_op *op = op_new(arg);
    if (!op) return -1;
    op->cb.range = cb;
    const char *argv[] = {"XREVRANGE", key, "+", "-", "COUNT", "1"};
    return send_op(s, op, on_range, STORE_ACK_PLAIN, key, 6, argv, NULL);
}

int store_history_range(struct store *s, const char *room, const char *after, int count,
                        store_range_fn *cb, void *arg) {
    return store_history_page(s, room, NULL, after, NULL, count, cb, arg);
}

static void on_pong(redisReply *r, void *arg) { on_status_reply(r, arg); }

int store_ping(struct store *s, store_status_fn *cb, void *arg) {
    struct store_op *op = op_new(arg);
    if (!op) return -1;
    op->cb.status = cb;
    const char *argv[] = {"PING", "health"};
    /* to any master: the one of the slot of "health" */
    return send_op(s, op, on_pong, STORE_ACK_PLAIN, argv[1], 2, argv, NULL);
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

bool store_is_ready_now(const struct store *s) { return cluster_is_ready(s->cluster); }

int store_ready(struct store *s, store_status_fn *cb, void *arg) {
    struct store_op *op = op_new(arg);
    if (!op) return -1;
    op->cb.status = cb;
    const char *argv[] = {"CLUSTER", "INFO"};
    if (cluster_command_any_node(s->cluster, on_cluster_info, op, 2, argv, NULL) < 0) {
        free(op);
        return -1;
    }
    return 0;
}
