/*
 * store_private: what the two halves of the store (store.c and
 * store_session.c) share: the store's state and the reading of a reply's
 * status. Nothing outside the store includes it.
 */
#ifndef CHAT_STORE_PRIVATE_H
#define CHAT_STORE_PRIVATE_H

#include <hiredis/hiredis.h>

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

/* STORE_UNAVAILABLE without a reply, STORE_ERROR for an error reply, else STORE_OK. */
static inline enum store_status status_of(const redisReply *r) {
    if (!r) return STORE_UNAVAILABLE;
    return r->type == REDIS_REPLY_ERROR ? STORE_ERROR : STORE_OK;
}

/* Sets up and tears down the session half (store_session.c); -1 when out of memory. */
int store_sessions_init(struct store *s);
void store_sessions_cleanup(struct store *s);

#endif
