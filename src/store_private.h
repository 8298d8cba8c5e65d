/*
 * store_private: what the two halves of the store (store.c and
 * store_session.c) share: the store's state, the one way to send a
 * command and the reading of a reply's status. Nothing outside the store
 * includes it.
 */
#ifndef CHAT_STORE_PRIVATE_H
#define CHAT_STORE_PRIVATE_H

#include <hiredis/hiredis.h>
#include <string.h>

#include "cluster.h"
#include "store.h"

struct event;
struct session_read;

struct store {
    struct cluster *cluster;          /* where every command goes */
    struct event_base *base;          /* the loop that runs cached answers */
    struct session_cache *sessions;   /* NULL: every session read goes to Redis */
    struct event *answer_ev;          /* runs the queued cached answers */
    struct session_read *answers;     /* session reads answered from the cache, in order */
    struct session_read *answers_tail;
    int keep_messages;                /* retention: about this many per room, 0: all */
    int keep_age_s;                   /* retention: seconds a message is kept, 0: forever */
    unsigned sends_since_trim;        /* sends since the last trim (store_trim_sometimes) */
};

/* How a command must be acknowledged. */
enum store_ack {
    STORE_ACK_PLAIN,   /* when the master answered */
    STORE_ACK_DURABLE, /* a write: only after enough replicas have it (cluster.h) */
};

/* Sends one command of the store: argv (argc strings of lens bytes each,
 * or NUL-terminated ones when lens is NULL) to the hash slot of key, which
 * the caller names (the command's key, or one of its keys that share a
 * slot). As cluster.h: -1 and done never runs, or 0 and done runs exactly
 * once, later. */
int store_command(struct store *s, enum store_ack ack, const char *key, cluster_reply_fn *done,
                  void *arg, int argc, const char **argv, const size_t *lens);

/* STORE_UNAVAILABLE without a reply, STORE_FULL for Redis's "-OOM" (its
 * maxmemory is reached; a script's write refused for it reads the same),
 * STORE_ERROR for another error reply, else STORE_OK. */
static inline enum store_status status_of(const redisReply *r) {
    if (!r) return STORE_UNAVAILABLE;
    if (r->type != REDIS_REPLY_ERROR) return STORE_OK;
    return strncmp(r->str, "OOM ", 4) == 0 ? STORE_FULL : STORE_ERROR;
}

/* Lua: trim(stream, policy, now, def_len, def_age) trims a room's stream
 * by the room's own retention (the hash policy: maxMessages, maxAge in
 * seconds), or for what it does not set by the server's defaults (0: no
 * limit), approximately (~); now is the new message's ms. */
#define STORE_TRIM_LUA                                                                  \
    "local function trim(stream, policy, now, def_len, def_age)\n"                       \
    "  local p = redis.call('HMGET', policy, 'maxMessages', 'maxAge')\n"                  \
    "  local len = tonumber(p[1] or def_len) or 0\n"                                     \
    "  local age = tonumber(p[2] or def_age) or 0\n"                                     \
    "  if len >= 1 then\n"                                                               \
    "    redis.call('XTRIM', stream, 'MAXLEN', '~', string.format('%.0f', len))\n"        \
    "  end\n"                                                                            \
    "  if age >= 1 and tonumber(now) > age * 1000 then\n"                                \
    "    redis.call('XTRIM', stream, 'MINID', '~', string.format('%.0f', now - age * 1000))\n" \
    "  end\n"                                                                            \
    "end\n"

/* The server's retention defaults, as arguments of the scripts. */
struct store_trim {
    char max_messages[16]; /* "0": no count limit */
    char max_age[16];      /* seconds, "0": no age limit */
};
/* The server's defaults of s as script arguments (store_retention.c). */
struct store_trim store_trim_of(const struct store *s);
/* After a plain append (an XADD, which cannot read the room's policy):
 * every STORE_TRIM_EVERY-th of a chatd is followed on the same slot by the
 * trim script, unacknowledged. ts is the message's ms. */
#define STORE_TRIM_EVERY 16
void store_trim_sometimes(struct store *s, const char *room, const char *ts);

/* Rings the room's doorbell (store_doorbell.h) after an append to its
 * stream that the caller has just queued. */
void store_ring_doorbell(struct store *s, const char *room);

/* The pv field of a user record as replied (nil, before any change: 0). */
long long store_password_version_of(const redisReply *r);

/* Sets up and tears down the session half (store_session.c); -1 when out of memory. */
int store_sessions_init(struct store *s);
void store_sessions_cleanup(struct store *s);

#endif
