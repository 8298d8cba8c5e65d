/* store_markers: each user's read markers (user:{<userId>}:read, a hash of
 * room -> id in the user's slot), the user's own events that tell the
 * user's other streams a marker moved (user:{<userId>}:events, a short
 * stream in the same slot, rung like a room), and the unread counts of a
 * room list: each room's newest id, all read at once, then a counting
 * script only for the rooms with messages after the marker. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numfmt.h"
#include "store.h"
#include "store_keys.h"
#include "store_private.h"

/* Lua: cmp(a, b) orders two message ids "<ms>-<seq>" (digits without
 * leading zeros, as chatd writes them) without floating point. */
#define MARKERS_CMP_LUA                                                          \
    "local function num(a, b)\n"                                                 \
    "  if #a ~= #b then return #a < #b and -1 or 1 end\n"                         \
    "  if a == b then return 0 end\n"                                            \
    "  return a < b and -1 or 1\n"                                               \
    "end\n"                                                                      \
    "local function cmp(a, b)\n"                                                 \
    "  local ams, aseq = string.match(a, '^(%d+)-(%d+)$')\n"                     \
    "  local bms, bseq = string.match(b, '^(%d+)-(%d+)$')\n"                     \
    "  if not bms then return 1 end\n"                                           \
    "  if not ams then return -1 end\n"                                          \
    "  local c = num(ams, bms)\n"                                                \
    "  if c ~= 0 then return c end\n"                                            \
    "  return num(aseq, bseq)\n"                                                 \
    "end\n"

/* Moves the marker of ARGV[1] forward to ARGV[2] and records it in the
 * user's events (trimmed to about ARGV[5] entries); an id not after the
 * marker changes nothing. {1, id} when it moved, {0, marker} when not. */
static const char marker_set_script[] = MARKERS_CMP_LUA
    "local cur = redis.call('HGET', KEYS[1], ARGV[1])\n"
    "if cur and cmp(ARGV[2], cur) <= 0 then return {0, cur} end\n"
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\n"
    "redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'userId', ARGV[3], 'name', '',"
    " 'text', ARGV[2], 'timestamp', ARGV[4], 'event', 'marker', 'target', ARGV[1])\n"
    "return {1, ARGV[2]}\n";

/* Counts the messages after ARGV[1] ("" for all) not written by ARGV[2],
 * up to ARGV[3]; room events are not messages. chatd writes a message as
 * exactly userId, name, text and timestamp, in that order, and a room
 * event with more fields after them (event, target, role), so an entry is
 * told by its length and its second field, without a walk over its
 * fields. Reads at most four batches of ARGV[3] entries. */
static const char unread_script[] =
    "local start = ARGV[1] == '' and '-' or '(' .. ARGV[1]\n"
    "local cap = tonumber(ARGV[3])\n"
    "local n = 0\n"
    "for batch = 1, 4 do\n"
    "  local e = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', cap)\n"
    "  for i = 1, #e do\n"
    "    local f = e[i][2]\n"
    "    if #f <= 8 and f[2] ~= ARGV[2] then n = n + 1 end\n"
    "  end\n"
    "  if n >= cap or #e < cap then break end\n"
    "  start = '(' .. e[#e][1]\n"
    "end\n"
    "return math.min(n, cap)\n";

/* One marker command in flight. */
struct marker_op {
    union {
        store_marker_fn *marker;
        store_pairs_fn *pairs;
    } cb;
    void *arg;
};

static void on_marker_set(redisReply *r, void *arg) {
    struct marker_op *op = arg;
    enum store_status st = status_of(r);
    bool ok = st == STORE_OK && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
              r->element[0]->type == REDIS_REPLY_INTEGER &&
              r->element[1]->type == REDIS_REPLY_STRING;
    if (st == STORE_OK && !ok) st = STORE_ERROR;
    op->cb.marker(st, ok && r->element[0]->integer == 1, ok ? r->element[1]->str : NULL,
                  op->arg);
    free(op);
}

int store_marker_set(struct store *s, const char *user_id, const char *room, const char *id,
                     long long timestamp, store_marker_fn *cb, void *arg) {
    char read[STORE_KEY_MAX], events[STORE_KEY_MAX], feed[STORE_KEY_MAX], ts[NUMFMT_MAX + 1],
        keep[NUMFMT_MAX + 1];
    if (store_key_user_read(read, sizeof(read), user_id) < 0 ||
        store_key_user_events(events, sizeof(events), user_id) < 0 ||
        store_feed_of_user(feed, sizeof(feed), user_id) < 0)
        return -1;
    *numfmt_decimal(ts, timestamp) = '\0';
    *numfmt_decimal(keep, STORE_USER_EVENTS_KEEP) = '\0';
    struct marker_op *op = calloc(1, sizeof(*op));
    if (!op) return -1;
    op->cb.marker = cb;
    op->arg = arg;
    const char *argv[] = {"EVAL", marker_set_script, "2", read, events, room, id, user_id, ts,
                          keep};
    if (store_command(s, STORE_ACK_DURABLE, read, on_marker_set, op, 10, argv, NULL) < 0) {
        free(op);
        return -1;
    }
    store_ring_doorbell(s, feed); /* a ring without an event costs one empty read */
    return 0;
}

static void on_markers(redisReply *r, void *arg) {
    struct marker_op *op = arg;
    enum store_status st = status_of(r);
    size_t n = st == STORE_OK && r->type == REDIS_REPLY_ARRAY ? r->elements / 2 : 0;
    const char **fields = n ? calloc(2 * n, sizeof(*fields)) : NULL;
    if (st == STORE_OK && r->type != REDIS_REPLY_ARRAY) st = STORE_ERROR;
    if (n && !fields) st = STORE_ERROR;
    for (size_t i = 0; fields && i < 2 * n; i++)
        fields[i] = r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->str : "";
    op->cb.pairs(st, st == STORE_OK ? fields : NULL, st == STORE_OK ? n : 0, op->arg);
    free(fields);
    free(op);
}

int store_markers_get(struct store *s, const char *user_id, store_pairs_fn *cb, void *arg) {
    char key[STORE_KEY_MAX];
    if (store_key_user_read(key, sizeof(key), user_id) < 0) return -1;
    struct marker_op *op = calloc(1, sizeof(*op));
    if (!op) return -1;
    op->cb.pairs = cb;
    op->arg = arg;
    const char *argv[] = {"HGETALL", key};
    if (store_command(s, STORE_ACK_PLAIN, key, on_markers, op, 2, argv, NULL) < 0) {
        free(op);
        return -1;
    }
    return 0;
}

/* The counts of one room list in flight: first each room's newest id
 * (a plain read), then the counting script only for the rooms whose newest
 * message is after the marker. */
struct unread_op {
    store_status_fn *cb;
    void *arg;
    struct store *s;
    struct store_unread *rooms;
    size_t pending;         /* rooms whose count is still to come, plus the caller's share */
    enum store_status st;   /* the first failure, or STORE_OK */
    char user_id[CHAT_USER_ID_LEN + 1];
    char cap[NUMFMT_MAX + 1];
};

/* One room's count: which op and which room, and its key. */
struct unread_one {
    struct unread_op *op;
    struct store_unread *room;
    char key[STORE_KEY_MAX];
};

static void unread_release(struct unread_op *op) {
    if (--op->pending > 0) return;
    op->cb(op->st, op->arg);
    free(op);
}

/* The room's count is in (or failed with st): its share of op is done. */
static void one_done(struct unread_one *one, enum store_status st) {
    struct unread_op *op = one->op;
    if (st != STORE_OK && op->st == STORE_OK) op->st = st;
    free(one);
    unread_release(op);
}

static void on_counted(redisReply *r, void *arg) {
    struct unread_one *one = arg;
    enum store_status st = status_of(r);
    if (st == STORE_OK && r->type == REDIS_REPLY_INTEGER) one->room->count = (int)r->integer;
    else if (st == STORE_OK) st = STORE_ERROR;
    one_done(one, st);
}

/* Whether the newest entry of a reply of XREVRANGE ... COUNT 1 is after
 * the marker (a room without a marker: whether it has an entry). */
static bool newest_after(const redisReply *r, const char *after) {
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) return false;
    const redisReply *e = r->element[0];
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 1 || e->element[0]->type != REDIS_REPLY_STRING)
        return true; /* let the script say */
    unsigned long long newest[2], marker[2];
    if (!after || chat_wire_stream_id_parse(after, marker) < 0 ||
        chat_wire_stream_id_parse(e->element[0]->str, newest) < 0)
        return true;
    return chat_wire_stream_id_compare(newest, marker) > 0;
}

/* The room's newest id came: a room read up to it counts 0 without the
 * script, the others are counted. */
static void on_newest(redisReply *r, void *arg) {
    struct unread_one *one = arg;
    struct unread_op *op = one->op;
    enum store_status st = status_of(r);
    if (st != STORE_OK || !newest_after(r, one->room->after)) {
        one_done(one, st);
        return;
    }
    const char *argv[] = {"EVAL", unread_script, "1", one->key,
                          one->room->after ? one->room->after : "", op->user_id, op->cap};
    if (store_command(op->s, STORE_ACK_PLAIN, one->key, on_counted, one, 7, argv, NULL) < 0)
        one_done(one, STORE_UNAVAILABLE);
}

/* Sends the first read of one room; -1 when it could not be sent. */
static int send_newest(struct unread_op *op, struct store_unread *room) {
    struct unread_one *one = calloc(1, sizeof(*one));
    if (!one || store_key_room_messages(one->key, sizeof(one->key), room->room) < 0) {
        free(one);
        return -1;
    }
    one->op = op;
    one->room = room;
    const char *argv[] = {"XREVRANGE", one->key, "+", "-", "COUNT", "1"};
    if (store_command(op->s, STORE_ACK_PLAIN, one->key, on_newest, one, 6, argv, NULL) < 0) {
        free(one);
        return -1;
    }
    return 0;
}

int store_unread_counts(struct store *s, const char *user_id, struct store_unread *rooms,
                        size_t n, int cap, store_status_fn *cb, void *arg) {
    if (n == 0) return -1; /* nothing would answer */
    struct unread_op *op = calloc(1, sizeof(*op));
    if (!op) return -1;
    *op = (struct unread_op){.cb = cb, .arg = arg, .s = s, .rooms = rooms, .pending = 1};
    snprintf(op->user_id, sizeof(op->user_id), "%s", user_id);
    *numfmt_decimal(op->cap, cap) = '\0';
    size_t sent = 0;
    for (size_t i = 0; i < n; i++) {
        rooms[i].count = 0;
        op->pending++;
        if (send_newest(op, &rooms[i]) < 0) {
            op->pending--;
            op->st = STORE_UNAVAILABLE;
        } else {
            sent++;
        }
    }
    if (sent == 0) {
        free(op);
        return -1;
    }
    unread_release(op); /* the caller's share: the last reply answers */
    return 0;
}
