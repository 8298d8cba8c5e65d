/*
 * store_private: what the two halves of the store (store.c and
 * store_session.c) share: the store's state, the one way to send a
 * command and the reading of a reply's status. Nothing outside the store
 * includes it.
 */
#ifndef CHAT_STORE_PRIVATE_H
#define CHAT_STORE_PRIVATE_H

#include <hiredis/hiredis.h>

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
 * once, later. (A blocking read, store_room_read, has a connection of its
 * own and goes through cluster_command_blocking.) */
int store_command(struct store *s, enum store_ack ack, const char *key, cluster_reply_fn *done,
                  void *arg, int argc, const char **argv, const size_t *lens);

/* STORE_UNAVAILABLE without a reply, STORE_ERROR for an error reply, else STORE_OK. */
static inline enum store_status status_of(const redisReply *r) {
    if (!r) return STORE_UNAVAILABLE;
    return r->type == REDIS_REPLY_ERROR ? STORE_ERROR : STORE_OK;
}

/* The pv field of a user record as replied (nil, before any change: 0). */
long long store_password_version_of(const redisReply *r);

/* Sets up and tears down the session half (store_session.c); -1 when out of memory. */
int store_sessions_init(struct store *s);
void store_sessions_cleanup(struct store *s);

#endif
