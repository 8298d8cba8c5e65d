/*
 * ev_cache: libevent's memory (event_set_mem_functions) with the small
 * blocks it frees kept for its next requests of that size: evbuffers and
 * their chains (a reply's, a Redis command's), events. With many requests
 * in flight at once they overflow glibc's per-thread cache, and its slower
 * paths (bins, merging of free chunks) took a fifth of chatd's
 * instructions per request when evhttp made some forty such objects per
 * request; chatd's own connections make a handful.
 *
 * The blocks are ordinary malloc blocks: what is not cached is freed, and
 * libevent's realloc is realloc. At most EV_CACHE_BYTES are kept. Only the
 * thread that installed the cache uses it; other threads go to malloc and
 * free directly. Builds with AddressSanitizer do not install it, so that
 * use-after-free in libevent's objects stays visible; under valgrind a
 * cached block is marked as no longer accessible, which keeps memcheck's
 * view of it.
 */
#ifndef CHAT_EV_CACHE_H
#define CHAT_EV_CACHE_H

/* Bytes of freed blocks kept at most, and blocks of one size at most (a
 * size that is freed more often than asked for cannot take all). */
#define EV_CACHE_BYTES (1u << 20)
#define EV_CACHE_CLASS_BLOCKS 512

/* Hands libevent the cache: call before any other libevent function, on
 * the thread that runs the loop. */
void ev_cache_install(void);

/* Frees the cached blocks (after the last libevent call). */
void ev_cache_release(void);

#endif
