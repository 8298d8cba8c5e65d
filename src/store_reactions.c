/*
 * store_reactions: a user's reaction to a message (docs/STORAGE.md,
 * "Reactions"). One script on the room's slot checks the message, keeps
 * the reactors' set and the counts that history pages read, and appends
 * a "reaction" event to the stream, so live streams and resumes see it in
 * order.
 */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_keys.h"
#include "store_private.h"

/* Adds (ARGV[6] "add") or removes the reaction ARGV[4] of user ARGV[2] on
 * message ARGV[1]: KEYS[3], the message's reactors, holds
 * "<user> <emoji>" per reaction; the edits hash KEYS[2] holds the counts
 * "<emoji> <n> ..." in the order of first use ("<id>/r") and each
 * reactor's emoji ("<id>/m/<user>"). {1, event id}; {0} when it stood so
 * already (nothing done); {-2} no such message (or removed); {-3} a room
 * event; {-5} the message has ARGV[7] different emoji already. */
static const char react_script[] =
    "local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])\n"
    "if #e == 0 then return {-2} end\n"
    "local f = e[1][2]\n"
    "for i = 1, #f, 2 do if f[i] == 'event' then return {-3} end end\n"
    "local add, member = ARGV[6] == 'add', ARGV[2] .. ' ' .. ARGV[4]\n"
    "if add and redis.call('SISMEMBER', KEYS[3], member) == 1 then return {0} end\n"
    "if not add and redis.call('SISMEMBER', KEYS[3], member) == 0 then return {0} end\n"
    "local rk, mk = ARGV[1] .. '/r', ARGV[1] .. '/m/' .. ARGV[2]\n"
    "local out, found = {}, false\n"
    "for em, n in string.gmatch(redis.call('HGET', KEYS[2], rk) or '', '(%S+) (%d+)') do\n"
    "  n = tonumber(n)\n"
    "  if em == ARGV[4] then found = true; n = n + (add and 1 or -1) end\n"
    "  if n > 0 then out[#out + 1] = em .. ' ' .. string.format('%d', n) end\n"
    "end\n"
    "if add and not found then\n"
    "  if #out >= tonumber(ARGV[7]) then return {-5} end\n"
    "  out[#out + 1] = ARGV[4] .. ' 1'\n"
    "end\n"
    "local mine = {}\n"
    "for em in string.gmatch(redis.call('HGET', KEYS[2], mk) or '', '%S+') do\n"
    "  if em ~= ARGV[4] then mine[#mine + 1] = em end\n"
    "end\n"
    "if add then\n"
    "  mine[#mine + 1] = ARGV[4]\n"
    "  redis.call('SADD', KEYS[3], member)\n"
    "else\n"
    "  redis.call('SREM', KEYS[3], member)\n"
    "end\n"
    "if #out > 0 then redis.call('HSET', KEYS[2], rk, table.concat(out, ' '))\n"
    "else redis.call('HDEL', KEYS[2], rk) end\n"
    "if #mine > 0 then redis.call('HSET', KEYS[2], mk, table.concat(mine, ' '))\n"
    "else redis.call('HDEL', KEYS[2], mk) end\n"
    "local id = redis.call('XADD', KEYS[1], '*', 'userId', ARGV[2], 'name', ARGV[3],"
    " 'text', ARGV[4], 'timestamp', ARGV[5], 'event', 'reaction', 'target', ARGV[1],"
    " 'role', '', 'action', add and 'added' or 'removed')\n"
    "return {1, id}\n";

struct react_op {
    store_change_fn *cb;
    void *arg;
};

static void on_reacted(redisReply *r, void *arg) {
    struct react_op *op = arg;
    enum store_status st = status_of(r);
    enum store_change outcome = STORE_CHANGE_DONE;
    const char *id = NULL;
    long long code = 0;
    if (st == STORE_OK && (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
                           r->element[0]->type != REDIS_REPLY_INTEGER))
        st = STORE_ERROR;
    if (st == STORE_OK) code = r->element[0]->integer;
    if (st == STORE_OK && code == 1) {
        if (r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING) id = r->element[1]->str;
        else st = STORE_ERROR;
    }
    if (code == 0) outcome = STORE_CHANGE_ALREADY;
    else if (code == -2) st = STORE_NOT_FOUND;
    else if (code == -3) outcome = STORE_CHANGE_NOT_A_MESSAGE;
    else if (code == -5) outcome = STORE_CHANGE_TOO_MANY;
    else if (code != 1 && st == STORE_OK) st = STORE_ERROR;
    op->cb(st, outcome, id, op->arg);
    free(op);
}

int store_message_react(struct store *s, const struct store_reaction *m, store_change_fn *cb,
                        void *arg) {
    char stream[STORE_KEY_MAX], edits[STORE_KEY_MAX], reactors[STORE_KEY_MAX], ts[24], max[16];
    if (store_key_room_messages(stream, sizeof(stream), m->room) < 0 ||
        store_key_room_edits(edits, sizeof(edits), m->room) < 0 ||
        store_key_room_reactors(reactors, sizeof(reactors), m->room, m->message_id) < 0)
        return -1;
    snprintf(ts, sizeof(ts), "%lld", m->timestamp);
    snprintf(max, sizeof(max), "%d", STORE_REACTIONS_MAX);
    struct react_op *op = calloc(1, sizeof(*op));
    if (!op) return -1;
    *op = (struct react_op){.cb = cb, .arg = arg};
    const char *argv[] = {"EVAL", react_script, "3", stream, edits, reactors, m->message_id,
                          m->user_id, m->user_name, m->emoji, ts, m->add ? "add" : "remove", max};
    if (store_command(s, STORE_ACK_DURABLE, stream, on_reacted, op, 13, argv, NULL) < 0) {
        free(op);
        return -1;
    }
    store_ring_doorbell(s, m->room);
    return 0;
}
