/*
 * reply_arena: hiredis reply objects built in one arena per reply. hiredis
 * allocates every object of a reply separately (a 100-entry XRANGE page is
 * ~1,100 objects, each a struct and often a string: ~2,200 malloc and free
 * calls). With these reply functions on a connection's reader, a reply is a
 * few blocks that grow by doubling, freed at once when hiredis frees the
 * reply after its callback. The objects are ordinary redisReply structs:
 * callbacks read them as before, but must not free or keep parts of them
 * (a reply kept past its callback is copied, as cluster.c does).
 */
#ifndef CHAT_REPLY_ARENA_H
#define CHAT_REPLY_ARENA_H

#include <hiredis/async.h>

/* Makes ctx's reader build its replies in arenas. */
void reply_arena_attach(redisAsyncContext *ctx);

#endif
