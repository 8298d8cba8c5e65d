/*
 * redis_events: the glue between a hiredis async context and the libevent
 * loop, in place of hiredis' adapters/libevent.h. It differs in two ways
 * that save system calls on a busy connection:
 *
 * - the read event is persistent: hiredis' adapter adds it again after
 *   every read, which removes the socket from epoll and adds it back;
 * - commands are written once per loop iteration, at its end, instead of
 *   after the socket has been reported writable by the next epoll_wait
 *   (which also cost two epoll_ctl: write interest on, then off). Only a
 *   write the socket did not take completely, and the connect, wait for
 *   the socket to become writable.
 *
 * Loop thread only.
 */
#ifndef CHAT_REDIS_EVENTS_H
#define CHAT_REDIS_EVENTS_H

struct event_base;
struct redisAsyncContext;

/* Attaches ac to base (like redisLibeventAttach); hiredis frees the glue
 * with the context. 0, or -1 when out of memory or already attached. */
int redis_events_attach(struct redisAsyncContext *ac, struct event_base *base);

#endif
