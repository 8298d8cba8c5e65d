/* store_members: a room's kind and members (room:{<room>}:members, in the
 * room's slot), the rooms of each user (user-memberships:<userId>, in the
 * user's slot) and the user-id index that finds a user by id. Who may do
 * what is decided by member_rules; the store applies a change only if the
 * standings it was decided on still hold (docs/STORAGE.md, "Members"). */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_keys.h"
#include "store_private.h"

/* One command (or two, for an access check that falls back) in flight. */
struct members_op {
    union {
        store_access_fn *access;
        store_created_fn *created;
        store_change_fn *change;
        store_pairs_fn *pairs;
        store_status_fn *status;
        store_text_fn *text;
    } cb;
    void *arg;
    struct store *s;
    char room[CHAT_ROOM_MAX + 1];
    struct store_access access;
    size_t group; /* a list's strings per entry: 2 for pairs, 3 for members */
};

static struct members_op *op_new(struct store *s, void *arg) {
    struct members_op *op = calloc(1, sizeof(*op));
    if (op) op->s = s, op->arg = arg;
    return op;
}

static int send_op(struct members_op *op, cluster_reply_fn *done, enum store_ack ack,
                   const char *key, int argc, const char **argv) {
    if (store_command(op->s, ack, key, done, op, argc, argv, NULL) < 0) {
        free(op);
        return -1;
    }
    return 0;
}

static const char *string_of(const redisReply *r) {
    return r && r->type == REDIS_REPLY_STRING ? r->str : NULL;
}

/* ---- the access check ---- */

static void access_done(struct members_op *op, enum store_status st) {
    op->cb.access(st, st == STORE_OK ? &op->access : NULL, op->arg);
    free(op);
}

static void on_listed(redisReply *r, void *arg) {
    struct members_op *op = arg;
    enum store_status st = status_of(r);
    if (st == STORE_OK && (r->type != REDIS_REPLY_ARRAY || r->elements != 1)) st = STORE_ERROR;
    if (st == STORE_OK && r->element[0]->type == REDIS_REPLY_NIL) st = STORE_NOT_FOUND;
    access_done(op, st);
}

/* A room without a kind: the lobby, a public room created before rooms
 * had members (in room-names), or none. */
static void access_fallback(struct members_op *op) {
    op->access.kind = ROOM_PUBLIC;
    if (strcmp(op->room, STORE_ROOM_LOBBY) == 0) {
        access_done(op, STORE_OK);
        return;
    }
    const char *argv[] = {"ZMSCORE", STORE_KEY_ROOMS, op->room};
    struct store *s = op->s;
    if (store_command(s, STORE_ACK_PLAIN, STORE_KEY_ROOMS, on_listed, op, 3, argv, NULL) < 0)
        access_done(op, STORE_UNAVAILABLE);
}

static void on_access(redisReply *r, void *arg) {
    struct members_op *op = arg;
    enum store_status st = status_of(r);
    if (st == STORE_OK && (r->type != REDIS_REPLY_ARRAY || r->elements != 3)) st = STORE_ERROR;
    if (st != STORE_OK) {
        access_done(op, st);
        return;
    }
    op->access.actor = member_role_parse(string_of(r->element[1]));
    op->access.target = member_role_parse(string_of(r->element[2]));
    if (room_kind_parse(string_of(r->element[0]), &op->access.kind) < 0) access_fallback(op);
    else access_done(op, STORE_OK);
}

int store_room_access(struct store *s, const char *room, const char *actor_id,
                      const char *target_id, store_access_fn *cb, void *arg) {
    char key[STORE_KEY_MAX];
    if (strlen(room) > CHAT_ROOM_MAX || store_key_room_members(key, sizeof(key), room) < 0)
        return -1;
    struct members_op *op = op_new(s, arg);
    if (!op) return -1;
    op->cb.access = cb;
    snprintf(op->room, sizeof(op->room), "%s", room);
    /* "-" is never a user id: the field of nobody */
    const char *argv[] = {"HMGET", key, "kind", actor_id ? actor_id : "-",
                          target_id ? target_id : "-"};
    return send_op(op, on_access, STORE_ACK_PLAIN, key, 5, argv);
}

/* The keys of room's members and of their names (one slot); -1 when too long. */
static int member_keys(const char *room, char members[STORE_KEY_MAX], char names[STORE_KEY_MAX]) {
    if (store_key_room_members(members, STORE_KEY_MAX, room) < 0) return -1;
    return store_key_room_member_names(names, STORE_KEY_MAX, room);
}

/* ---- creation ---- */

/* Creates the room with its owner (and the owner's name in KEYS[2]) unless
 * it has a kind already; answers {created, kind, the caller's role there}. */
static const char create_script[] =
    "local kind = redis.call('HGET', KEYS[1], 'kind')\n"
    "if kind then return {0, kind, redis.call('HGET', KEYS[1], ARGV[2]) or ''} end\n"
    "redis.call('HSET', KEYS[1], 'kind', ARGV[1], ARGV[2], 'owner')\n"
    "redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])\n"
    "return {1, ARGV[1], 'owner'}\n";

static void on_created(redisReply *r, void *arg) {
    struct members_op *op = arg;
    enum store_status st = status_of(r);
    enum room_kind kind = ROOM_PUBLIC;
    if (st == STORE_OK &&
        (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
         r->element[0]->type != REDIS_REPLY_INTEGER ||
         room_kind_parse(string_of(r->element[1]), &kind) < 0))
        st = STORE_ERROR;
    if (st == STORE_OK && r->element[0]->integer == 0) st = STORE_EXISTS;
    enum member_role role = st == STORE_OK || st == STORE_EXISTS
                                ? member_role_parse(string_of(r->element[2]))
                                : ROLE_NONE;
    op->cb.created(st, kind, role, op->arg);
    free(op);
}

int store_room_create(struct store *s, const char *room, enum room_kind kind,
                      const char *owner_id, const char *owner_name, store_created_fn *cb,
                      void *arg) {
    char key[STORE_KEY_MAX], names[STORE_KEY_MAX];
    if (member_keys(room, key, names) < 0) return -1;
    struct members_op *op = op_new(s, arg);
    if (!op) return -1;
    op->cb.created = cb;
    const char *argv[] = {"EVAL", create_script, "2", key, names, room_kind_name(kind), owner_id,
                          owner_name};
    return send_op(op, on_created, STORE_ACK_DURABLE, key, 8, argv);
}

/* Makes the direct room of two users, or finds it, and (again) makes both
 * its members, with their names (KEYS[2]); {1} created, {0} there already, {-1} the name is another
 * kind of room's. */
static const char direct_script[] =
    "local kind = redis.call('HGET', KEYS[1], 'kind')\n"
    "if kind and kind ~= 'direct' then return {-1} end\n"
    "redis.call('HSET', KEYS[1], 'kind', 'direct')\n"
    "for i = 1, 2 do\n"
    "  if not redis.call('HGET', KEYS[1], ARGV[i]) then\n"
    "    redis.call('HSET', KEYS[1], ARGV[i], 'member')\n"
    "  end\n"
    "  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 2])\n"
    "end\n"
    "return {kind and 0 or 1}\n";

static void on_direct(redisReply *r, void *arg) {
    struct members_op *op = arg;
    enum store_status st = status_of(r);
    if (st == STORE_OK && (r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
                           r->element[0]->type != REDIS_REPLY_INTEGER))
        st = STORE_ERROR;
    if (st == STORE_OK && r->element[0]->integer == 0) st = STORE_EXISTS;
    if (st == STORE_OK && r->element[0]->integer == -1) st = STORE_ERROR;
    op->cb.status(st, op->arg);
    free(op);
}

int store_direct_create(struct store *s, const char *room, const char *const ids[2],
                        const char *const names[2], store_status_fn *cb, void *arg) {
    char key[STORE_KEY_MAX], names_key[STORE_KEY_MAX];
    if (member_keys(room, key, names_key) < 0) return -1;
    struct members_op *op = op_new(s, arg);
    if (!op) return -1;
    op->cb.status = cb;
    const char *argv[] = {"EVAL", direct_script, "2", key, names_key, ids[0], ids[1],
                          names[0], names[1]};
    return send_op(op, on_direct, STORE_ACK_DURABLE, key, 9, argv);
}

/* ---- changes ---- */

/* Applies one membership change if the actor's and the target's standings
 * are still those it was decided on (keeping the names of the target and
 * of an acting member in KEYS[3]), and records it in the room's stream:
 * {1, event id}; {2} when the target stands as wanted already (a resent
 * command); {0} when a standing changed meanwhile; {-1} when it would
 * leave the room without an owner. */
static const char change_script[] =
    "local function role(u) return redis.call('HGET', KEYS[1], u) or '' end\n"
    "local a, t = role(ARGV[1]), role(ARGV[3])\n"
    "if t == ARGV[5] then return {2} end\n"
    "if a ~= ARGV[2] or t ~= ARGV[4] then return {0} end\n"
    "if ARGV[10] == '1' then\n"
    "  local owners = 0\n"
    "  for _, v in ipairs(redis.call('HVALS', KEYS[1])) do\n"
    "    if v == 'owner' then owners = owners + 1 end\n"
    "  end\n"
    "  if owners < 2 then return {-1} end\n"
    "end\n"
    "redis.call('HSETNX', KEYS[1], 'kind', ARGV[11])\n"
    "if ARGV[5] == '' then\n"
    "  redis.call('HDEL', KEYS[1], ARGV[3])\n"
    "  redis.call('HDEL', KEYS[3], ARGV[3])\n"
    "else\n"
    "  redis.call('HSET', KEYS[1], ARGV[3], ARGV[5])\n"
    "  redis.call('HSET', KEYS[3], ARGV[3], ARGV[8])\n"
    "end\n"
    "if a ~= '' and a ~= 'banned' and ARGV[1] ~= ARGV[3] then\n"
    "  redis.call('HSET', KEYS[3], ARGV[1], ARGV[7])\n"
    "end\n"
    "local id = redis.call('XADD', KEYS[2], '*', 'userId', ARGV[1], 'name', ARGV[7],"
    " 'text', ARGV[8], 'timestamp', ARGV[9], 'event', ARGV[6], 'target', ARGV[3],"
    " 'role', ARGV[5])\n"
    "return {1, id}\n";

/* Reads a change script's answer, {code} or {1, event id}: the status,
 * the code and the id (NULL unless code 1). */
static enum store_status script_answer(const redisReply *r, long long *code, const char **id) {
    enum store_status st = status_of(r);
    *id = NULL;
    if (st != STORE_OK) return st;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_INTEGER)
        return STORE_ERROR;
    *code = r->element[0]->integer;
    if (*code != 1) return STORE_OK;
    *id = r->elements == 2 ? string_of(r->element[1]) : NULL;
    return *id ? STORE_OK : STORE_ERROR;
}

static void on_changed(redisReply *r, void *arg) {
    struct members_op *op = arg;
    long long code = 0;
    const char *id;
    enum store_status st = script_answer(r, &code, &id);
    enum store_change outcome = code == 1    ? STORE_CHANGE_DONE
                                : code == 2  ? STORE_CHANGE_ALREADY
                                : code == -1 ? STORE_CHANGE_LAST_OWNER
                                             : STORE_CHANGE_CONFLICT;
    if (st == STORE_OK && code != 1 && code != 2 && code != -1 && code != 0) st = STORE_ERROR;
    op->cb.change(st, outcome, id, op->arg);
    free(op);
}

int store_member_change(struct store *s, const struct store_member_change *c,
                        store_change_fn *cb, void *arg) {
    char key[STORE_KEY_MAX], stream[STORE_KEY_MAX], names[STORE_KEY_MAX], ts[24];
    if (member_keys(c->room, key, names) < 0 ||
        store_key_room_messages(stream, sizeof(stream), c->room) < 0)
        return -1;
    snprintf(ts, sizeof(ts), "%lld", c->timestamp);
    struct members_op *op = op_new(s, arg);
    if (!op) return -1;
    op->cb.change = cb;
    const char *argv[] = {"EVAL", change_script, "3", key, stream, names, c->actor_id,
                          member_role_name(c->actor), c->target_id,
                          member_role_name(c->target), member_role_name(c->role), c->event,
                          c->actor_name, c->target_name, ts, c->needs_other_owner ? "1" : "0",
                          room_kind_name(c->kind)};
    if (send_op(op, on_changed, STORE_ACK_DURABLE, key, 17, argv) < 0) return -1;
    store_ring_doorbell(s, c->room);
    return 0;
}

/* ---- removing a message ---- */

/* Removes one message (never a room event) if the actor's role is still
 * the one read (ARGV[7] "role"), or if the actor wrote it (ARGV[7]
 * "author"), and records the removal as a tombstone event in its place in
 * the order (its edits and their "edited" events go too, and its
 * reactions: the reactors' set KEYS[4] and their fields), whose text is
 * ARGV[8] when the actor wrote it, else ARGV[6]: {1, event id};
 * {0} when the role changed; {-2} when there is no such message (or it
 * was removed already); {-3} for a room event; {-4} when it is another's. */
static const char remove_script[] =
    "if ARGV[7] == 'role' and (redis.call('HGET', KEYS[1], ARGV[1]) or '') ~= ARGV[2] then\n"
    "  return {0}\n"
    "end\n"
    "local e = redis.call('XRANGE', KEYS[2], ARGV[3], ARGV[3])\n"
    "if #e == 0 then return {-2} end\n"
    "local f, author = e[1][2], nil\n"
    "for i = 1, #f, 2 do\n"
    "  if f[i] == 'event' then return {-3} end\n"
    "  if f[i] == 'userId' then author = f[i + 1] end\n"
    "end\n"
    "if ARGV[7] == 'author' and author ~= ARGV[1] then return {-4} end\n"
    "redis.call('XDEL', KEYS[2], ARGV[3])\n"
    "local evs = redis.call('HGET', KEYS[3], ARGV[3] .. '/events')\n"
    "if evs then for ev in string.gmatch(evs, '%S+') do redis.call('XDEL', KEYS[2], ev) end end\n"
    "redis.call('HDEL', KEYS[3], ARGV[3], ARGV[3] .. '/events', ARGV[3] .. '/r')\n"
    "for _, m in ipairs(redis.call('SMEMBERS', KEYS[4])) do\n"
    "  redis.call('HDEL', KEYS[3], ARGV[3] .. '/m/' .. string.match(m, '^%S+'))\n"
    "end\n"
    "redis.call('DEL', KEYS[4])\n"
    "local text = author == ARGV[1] and ARGV[8] or ARGV[6]\n"
    "local id = redis.call('XADD', KEYS[2], '*', 'userId', ARGV[1], 'name', ARGV[4],"
    " 'text', text, 'timestamp', ARGV[5], 'event', 'message_removed', 'target', ARGV[3],"
    " 'role', '')\n"
    "return {1, id}\n";

/* The answer of a script on one message (removal, edit): {1, event id};
 * {-2} no such message; {-3} a room event; {0} (the role changed) or {-4}
 * (another's message): the actor may no longer act. */
static void on_message_changed(redisReply *r, void *arg) {
    struct members_op *op = arg;
    long long code = 0;
    const char *id;
    enum store_status st = script_answer(r, &code, &id);
    enum store_change outcome = code == 1    ? STORE_CHANGE_DONE
                                : code == -3 ? STORE_CHANGE_NOT_A_MESSAGE
                                             : STORE_CHANGE_CONFLICT;
    if (st == STORE_OK && code == -2) st = STORE_NOT_FOUND;
    else if (st == STORE_OK && code != 1 && code != -3 && code != 0 && code != -4)
        st = STORE_ERROR;
    op->cb.change(st, outcome, id, op->arg);
    free(op);
}

int store_message_remove(struct store *s, const struct store_message_removal *m,
                         store_change_fn *cb, void *arg) {
    char key[STORE_KEY_MAX], stream[STORE_KEY_MAX], edits[STORE_KEY_MAX],
        reactors[STORE_KEY_MAX], ts[24];
    if (store_key_room_members(key, sizeof(key), m->room) < 0 ||
        store_key_room_messages(stream, sizeof(stream), m->room) < 0 ||
        store_key_room_edits(edits, sizeof(edits), m->room) < 0 ||
        store_key_room_reactors(reactors, sizeof(reactors), m->room, m->message_id) < 0)
        return -1;
    snprintf(ts, sizeof(ts), "%lld", m->timestamp);
    struct members_op *op = op_new(s, arg);
    if (!op) return -1;
    op->cb.change = cb;
    const char *argv[] = {"EVAL", remove_script, "4", key, stream, edits, reactors,
                          m->actor_id, member_role_name(m->actor), m->message_id, m->actor_name,
                          ts, STORE_TOMBSTONE_TEXT, m->own ? "author" : "role",
                          STORE_TOMBSTONE_OWN_TEXT};
    if (send_op(op, on_message_changed, STORE_ACK_DURABLE, key, 15, argv) < 0) return -1;
    store_ring_doorbell(s, m->room);
    return 0;
}

/* ---- editing one's own message ---- */

/* Replaces the text of the author's own message: the new text goes into
 * the room's edits hash (the history answers it in place of the old one)
 * and an "edited" event into the stream, so live streams and resumes see
 * it in order (the hash's "<id>/events" lists the ids of its "edited"
 * events, which a removal deletes with it): {1, event id}; {-2} when there is no such message (or it
 * was removed); {-3} for a room event; {-4} when it is another's. */
static const char edit_script[] =
    "local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])\n"
    "if #e == 0 then return {-2} end\n"
    "local f, author = e[1][2], nil\n"
    "for i = 1, #f, 2 do\n"
    "  if f[i] == 'event' then return {-3} end\n"
    "  if f[i] == 'userId' then author = f[i + 1] end\n"
    "end\n"
    "if author ~= ARGV[2] then return {-4} end\n"
    "local id = redis.call('XADD', KEYS[1], '*', 'userId', ARGV[2], 'name', ARGV[3],"
    " 'text', ARGV[4], 'timestamp', ARGV[5], 'event', 'edited', 'target', ARGV[1],"
    " 'role', '')\n"
    "redis.call('HSET', KEYS[2], ARGV[1], ARGV[5] .. ':' .. ARGV[4])\n"
    "local evs = redis.call('HGET', KEYS[2], ARGV[1] .. '/events')\n"
    "redis.call('HSET', KEYS[2], ARGV[1] .. '/events', (evs and evs .. ' ' or '') .. id)\n"
    "return {1, id}\n";

int store_message_edit(struct store *s, const struct store_message_edit *m,
                       store_change_fn *cb, void *arg) {
    char stream[STORE_KEY_MAX], edits[STORE_KEY_MAX], ts[24];
    if (store_key_room_messages(stream, sizeof(stream), m->room) < 0 ||
        store_key_room_edits(edits, sizeof(edits), m->room) < 0)
        return -1;
    snprintf(ts, sizeof(ts), "%lld", m->timestamp);
    struct members_op *op = op_new(s, arg);
    if (!op) return -1;
    op->cb.change = cb;
    const char *argv[] = {"EVAL", edit_script, "2", stream, edits, m->message_id,
                          m->author_id, m->author_name, m->text, ts};
    size_t lens[10];
    for (int i = 0; i < 10; i++) lens[i] = i == 8 ? m->text_len : strlen(argv[i]);
    if (store_command(s, STORE_ACK_DURABLE, stream, on_message_changed, op, 10, argv, lens) < 0) {
        free(op);
        return -1;
    }
    store_ring_doorbell(s, m->room);
    return 0;
}

/* ---- lists of pairs: a room's members, a user's rooms ---- */

/* Hands an array reply on as groups of op->group strings (a group with
 * another type is skipped). */
static void on_groups(redisReply *r, void *arg) {
    struct members_op *op = arg;
    enum store_status st = status_of(r);
    const char **fields = NULL;
    size_t n = 0, g = op->group;
    if (st == STORE_OK && r->type != REDIS_REPLY_ARRAY) st = STORE_ERROR;
    if (st == STORE_OK && r->elements && !(fields = calloc(r->elements, sizeof(*fields))))
        st = STORE_ERROR;
    for (size_t i = 0; st == STORE_OK && i + g <= r->elements; i += g) {
        size_t k = 0;
        while (k < g && string_of(r->element[i + k])) k++;
        for (size_t j = 0; k == g && j < g; j++) fields[n++] = string_of(r->element[i + j]);
    }
    op->cb.pairs(st, fields, n / g, op->arg);
    free(fields);
    free(op);
}

static void on_pairs(redisReply *r, void *arg) {
    ((struct members_op *)arg)->group = 2;
    on_groups(r, arg);
}

static int get_pairs(struct store *s, const char *key, store_pairs_fn *cb, void *arg) {
    struct members_op *op = op_new(s, arg);
    if (!op) return -1;
    op->cb.pairs = cb;
    const char *argv[] = {"HGETALL", key};
    return send_op(op, on_pairs, STORE_ACK_PLAIN, key, 2, argv);
}

/* The members hash without "kind", each member as {id, role, name or ""}. */
static const char member_list_script[] =
    "local m = redis.call('HGETALL', KEYS[1])\n"
    "local out = {}\n"
    "for i = 1, #m, 2 do\n"
    "  if m[i] ~= 'kind' then\n"
    "    out[#out + 1] = m[i]\n"
    "    out[#out + 1] = m[i + 1]\n"
    "    out[#out + 1] = redis.call('HGET', KEYS[2], m[i]) or ''\n"
    "  end\n"
    "end\n"
    "return out\n";

static void on_member_list(redisReply *r, void *arg) {
    ((struct members_op *)arg)->group = 3; /* id, role, name */
    on_groups(r, arg);
}

int store_room_members(struct store *s, const char *room, store_pairs_fn *cb, void *arg) {
    char key[STORE_KEY_MAX], names[STORE_KEY_MAX];
    if (member_keys(room, key, names) < 0) return -1;
    struct members_op *op = op_new(s, arg);
    if (!op) return -1;
    op->cb.pairs = cb;
    const char *argv[] = {"EVAL", member_list_script, "2", key, names};
    return send_op(op, on_member_list, STORE_ACK_PLAIN, key, 5, argv);
}

int store_user_memberships(struct store *s, const char *user_id, store_pairs_fn *cb,
                           void *arg) {
    char key[STORE_KEY_MAX];
    if (store_key_user_memberships(key, sizeof(key), user_id) < 0) return -1;
    return get_pairs(s, key, cb, arg);
}

static void on_status(redisReply *r, void *arg) {
    struct members_op *op = arg;
    op->cb.status(status_of(r), op->arg);
    free(op);
}

int store_user_membership_set(struct store *s, const char *user_id, const char *room,
                              enum room_kind kind, enum member_role role, store_status_fn *cb,
                              void *arg) {
    char key[STORE_KEY_MAX], value[32];
    if (store_key_user_memberships(key, sizeof(key), user_id) < 0) return -1;
    snprintf(value, sizeof(value), "%s:%s", room_kind_name(kind), member_role_name(role));
    struct members_op *op = op_new(s, arg);
    if (!op) return -1;
    op->cb.status = cb;
    bool drop = role < ROLE_MEMBER;
    const char *argv[] = {drop ? "HDEL" : "HSET", key, room, value};
    return send_op(op, on_status, STORE_ACK_DURABLE, key, drop ? 3 : 4, argv);
}

/* ---- finding a user by id ---- */

int store_user_id_index(struct store *s, const char *user_id, const char *email,
                        store_status_fn *cb, void *arg) {
    char key[STORE_KEY_MAX];
    if (store_key_user_id(key, sizeof(key), user_id) < 0) return -1;
    struct members_op *op = op_new(s, arg);
    if (!op) return -1;
    op->cb.status = cb;
    const char *argv[] = {"SET", key, email};
    return send_op(op, on_status, STORE_ACK_DURABLE, key, 3, argv);
}

static void on_text(redisReply *r, void *arg) {
    struct members_op *op = arg;
    enum store_status st = status_of(r);
    const char *text = st == STORE_OK ? string_of(r) : NULL;
    if (st == STORE_OK && !text) st = r->type == REDIS_REPLY_NIL ? STORE_NOT_FOUND : STORE_ERROR;
    op->cb.text(st, text, op->arg);
    free(op);
}

int store_user_email_of(struct store *s, const char *user_id, store_text_fn *cb, void *arg) {
    char key[STORE_KEY_MAX];
    if (store_key_user_id(key, sizeof(key), user_id) < 0) return -1;
    struct members_op *op = op_new(s, arg);
    if (!op) return -1;
    op->cb.text = cb;
    const char *argv[] = {"GET", key};
    return send_op(op, on_text, STORE_ACK_PLAIN, key, 2, argv);
}
