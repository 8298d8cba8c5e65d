/* store_presence: ephemeral signals and presence in Redis, see store_presence.h. */
#include "store_presence.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_keys.h"
#include "store_private.h"

#define PRUNE_MAX "1000" /* expired entries one script removes at most */

/* Lua shared by both scripts. KEYS: presence, online, online-names,
 * online-refs, channel. now() is Redis's clock in ms (one clock for every
 * chatd); drop(member) removes one entry and records a leave when it was
 * the user's last; prune() drops the expired ones; publish() sends the
 * joins and leaves as one presence signal and returns the count. */
#define PRESENCE_LUA                                                                      \
    "local joined, left = {}, {}\n"                                                        \
    "local function now()\n"                                                               \
    "  local t = redis.call('TIME')\n"                                                    \
    "  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"                \
    "end\n"                                                                                \
    "local function drop(member)\n"                                                        \
    "  if redis.call('ZREM', KEYS[1], member) == 0 then return end\n"                      \
    "  local uid = string.sub(member, string.find(member, '|', 1, true) + 1)\n"            \
    "  if redis.call('HINCRBY', KEYS[4], uid, -1) <= 0 then\n"                             \
    "    redis.call('HDEL', KEYS[4], uid)\n"                                               \
    "    redis.call('HDEL', KEYS[3], uid)\n"                                               \
    "    redis.call('ZREM', KEYS[2], uid)\n"                                               \
    "    left[#left + 1] = {userId = uid}\n"                                               \
    "  end\n"                                                                              \
    "end\n"                                                                                \
    "local function prune(t)\n"                                                            \
    "  local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', t, 'LIMIT', 0, " PRUNE_MAX \
    ")\n"                                                                                  \
    "  for _, m in ipairs(old) do drop(m) end\n"                                           \
    "end\n"                                                                                \
    "local function publish()\n"                                                           \
    "  local count = redis.call('ZCARD', KEYS[2])\n"                                       \
    "  if #joined + #left > 0 then\n"                                                      \
    "    local sig = {count = count}\n"                                                    \
    "    if #joined > 0 then sig.joined = joined end\n"                                    \
    "    if #left > 0 then sig.left = left end\n"                                          \
    "    redis.call('SPUBLISH', KEYS[5], 'presence ' .. cjson.encode(sig))\n"              \
    "  end\n"                                                                              \
    "  return count\n"                                                                     \
    "end\n"

/* ARGV: node, ttl ms, n, then n pairs (user id, name) present, then the
 * user ids gone. Returns the count. */
static const char update_script[] =
    PRESENCE_LUA
    "local node, ttl, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local t = now()\n"
    "for i = 0, n - 1 do\n"
    "  local uid, name = ARGV[4 + 2 * i], ARGV[5 + 2 * i]\n"
    "  if redis.call('ZADD', KEYS[1], t + ttl, node .. '|' .. uid) == 1 and\n"
    "     redis.call('HINCRBY', KEYS[4], uid, 1) == 1 then\n"
    "    redis.call('ZADD', KEYS[2], 0, uid)\n"
    "    redis.call('HSET', KEYS[3], uid, name)\n"
    "    joined[#joined + 1] = {userId = uid, name = name}\n"
    "  end\n"
    "end\n"
    "for i = 4 + 2 * n, #ARGV do drop(node .. '|' .. ARGV[i]) end\n"
    "prune(t)\n"
    "for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], 2 * ttl) end\n"
    "return publish()\n";

/* ARGV: after ("" for the start), limit. Returns {count, {id, name, ...}}:
 * the users after it in id order. */
static const char read_script[] =
    PRESENCE_LUA
    "prune(now())\n"
    "local count = publish()\n"
    "local from = ARGV[1] == '' and '-' or '(' .. ARGV[1]\n"
    "local ids = redis.call('ZRANGEBYLEX', KEYS[2], from, '+', 'LIMIT', 0, ARGV[2])\n"
    "local page = {}\n"
    "if #ids > 0 then\n"
    "  local names = redis.call('HMGET', KEYS[3], unpack(ids))\n"
    "  for i, id in ipairs(ids) do\n"
    "    page[#page + 1] = id\n"
    "    page[#page + 1] = names[i] or ''\n"
    "  end\n"
    "end\n"
    "return {count, page}\n";

/* One command in flight: the caller's callback. */
struct presence_op {
    union {
        store_status_fn *status;
        store_count_fn *count;
        store_presence_page_fn *page;
    } cb;
    void *arg;
};

#define PRESENCE_KEYS 5

/* The keys of room's scripts; -1 when a name does not fit. */
static int presence_keys(const char *room, char keys[PRESENCE_KEYS][STORE_KEY_MAX]) {
    if (store_key_room_presence(keys[0], STORE_KEY_MAX, room, "presence") < 0 ||
        store_key_room_presence(keys[1], STORE_KEY_MAX, room, "online") < 0 ||
        store_key_room_presence(keys[2], STORE_KEY_MAX, room, "online-names") < 0 ||
        store_key_room_presence(keys[3], STORE_KEY_MAX, room, "online-refs") < 0 ||
        store_key_room_doorbell(keys[4], STORE_KEY_MAX, room) < 0)
        return -1;
    return 0;
}

static int send_op(struct store *s, struct presence_op *op, cluster_reply_fn *done,
                   const char *key, int argc, const char **argv, const size_t *lens) {
    if (!op || store_command(s, STORE_ACK_PLAIN, key, done, op, argc, argv, lens) < 0) {
        free(op);
        return -1;
    }
    return 0;
}

static void on_published(redisReply *r, void *arg) {
    struct presence_op *op = arg;
    op->cb.status(status_of(r), op->arg);
    free(op);
}

int store_signal_publish(struct store *s, const char *room, const char *payload, size_t len,
                         store_status_fn *cb, void *arg) {
    char channel[STORE_KEY_MAX];
    if (store_key_room_doorbell(channel, sizeof(channel), room) < 0) return -1;
    struct presence_op *op = calloc(1, sizeof(*op));
    if (op) *op = (struct presence_op){.cb.status = cb, .arg = arg};
    const char *argv[] = {"SPUBLISH", channel, payload};
    const size_t lens[] = {8, strlen(channel), len};
    return send_op(s, op, on_published, channel, 3, argv, lens);
}

static void on_updated(redisReply *r, void *arg) {
    struct presence_op *op = arg;
    enum store_status st = status_of(r);
    if (st == STORE_OK && r->type != REDIS_REPLY_INTEGER) st = STORE_ERROR;
    op->cb.count(st, st == STORE_OK ? r->integer : 0, op->arg);
    free(op);
}

int store_presence_update(struct store *s, const struct store_presence_batch *b,
                          store_count_fn *cb, void *arg) {
    char keys[PRESENCE_KEYS][STORE_KEY_MAX], ttl[24], n[24];
    if (presence_keys(b->room, keys) < 0) return -1;
    snprintf(ttl, sizeof(ttl), "%lld", b->ttl_ms);
    snprintf(n, sizeof(n), "%zu", b->npresent);
    const char *head[] = {"EVAL",  update_script, "5", keys[0], keys[1], keys[2],
                          keys[3], keys[4],       b->node, ttl, n};
    size_t nhead = sizeof(head) / sizeof(head[0]);
    size_t argc = nhead + 2 * b->npresent + b->ngone;
    const char **argv = calloc(argc, sizeof(*argv));
    struct presence_op *op = argv ? calloc(1, sizeof(*op)) : NULL;
    if (!op) {
        free(argv);
        return -1;
    }
    *op = (struct presence_op){.cb.count = cb, .arg = arg};
    memcpy(argv, head, sizeof(head));
    if (b->npresent) memcpy(argv + nhead, b->present, 2 * b->npresent * sizeof(*argv));
    if (b->ngone) memcpy(argv + nhead + 2 * b->npresent, b->gone, b->ngone * sizeof(*argv));
    int rc = send_op(s, op, on_updated, keys[0], (int)argc, argv, NULL);
    free(argv);
    return rc;
}

/* Reads the read script's {count, {id, name, ...}}; -1 when the reply is
 * not that. */
static int page_of(const redisReply *r, struct store_presence_page *p) {
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_ARRAY ||
        r->element[1]->elements % 2)
        return -1;
    const redisReply *list = r->element[1];
    const char **pairs = calloc(list->elements + 1, sizeof(*pairs));
    if (!pairs) return -1;
    for (size_t i = 0; i < list->elements; i++) {
        if (list->element[i]->type != REDIS_REPLY_STRING) {
            free(pairs);
            return -1;
        }
        pairs[i] = list->element[i]->str;
    }
    *p = (struct store_presence_page){r->element[0]->integer, pairs, list->elements / 2};
    return 0;
}

static void on_page(redisReply *r, void *arg) {
    struct presence_op *op = arg;
    struct store_presence_page page = {0, NULL, 0};
    enum store_status st = status_of(r);
    if (st == STORE_OK && page_of(r, &page) < 0) st = STORE_ERROR;
    op->cb.page(st, &page, op->arg);
    free((void *)page.pairs);
    free(op);
}

int store_presence_read(struct store *s, const char *room, const char *after, int limit,
                        store_presence_page_fn *cb, void *arg) {
    char keys[PRESENCE_KEYS][STORE_KEY_MAX], count[16];
    if (presence_keys(room, keys) < 0) return -1;
    snprintf(count, sizeof(count), "%d", limit);
    struct presence_op *op = calloc(1, sizeof(*op));
    if (op) *op = (struct presence_op){.cb.page = cb, .arg = arg};
    const char *argv[] = {"EVAL",  read_script, "5",   keys[0], keys[1],
                          keys[2], keys[3],     keys[4], after,   count};
    return send_op(s, op, on_page, keys[0], 10, argv, NULL);
}
