/* ev_cache: a free-block cache for libevent's allocations, see ev_cache.h. */
#include "ev_cache.h"

#include <event2/event.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

/* Under valgrind a cached block is marked unusable, as a freed one would
 * be: memcheck then reports libevent's use after free as without the cache
 * (the macros cost a few instructions elsewhere). */
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#endif
#endif
#ifndef VALGRIND_MAKE_MEM_NOACCESS
#define VALGRIND_MAKE_MEM_NOACCESS(p, n) ((void)(p), (void)(n))
#define VALGRIND_MAKE_MEM_UNDEFINED(p, n) ((void)(p), (void)(n))
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void)(p), (void)(n))
#endif

/* Off under AddressSanitizer, which must see libevent's blocks freed. */
#if defined(__SANITIZE_ADDRESS__)
#define EV_CACHE_ON 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EV_CACHE_ON 0
#endif
#endif
#ifndef EV_CACHE_ON
#define EV_CACHE_ON 1
#endif

/* Blocks are kept by usable size: class c holds blocks of at least
 * 16 * c + 8 usable bytes (glibc's sizes are 24, 40, 56, ...). */
#define CLASSES 66 /* up to 1,048 bytes: small objects and 1 KB buffer chains */

/* A cached block's first bytes. */
struct free_block {
    struct free_block *next;
};

/* Process-wide on purpose: libevent's allocator hooks
 * (event_set_mem_functions) are process-wide, take no context and are
 * installed before any event base exists, so the blocks they cache cannot
 * belong to a server. Touched by the owner (loop) thread only; other
 * threads pass through to malloc. */
static struct {
    struct free_block *head[CLASSES];
    unsigned count[CLASSES]; /* blocks in head[c] */
    size_t bytes;            /* cached, all classes */
    pthread_t owner;         /* the loop thread */
} cache;

/* The class whose every block can hold n bytes (class 0 is not used: the
 * smallest blocks have 24 usable bytes). */
static size_t class_for_request(size_t n) { return n <= 24 ? 1 : (n - 8 + 15) / 16; }

/* The class a block of usable size u belongs to (CLASSES: none). */
static size_t class_of_block(size_t u) { return u < 24 ? CLASSES : (u - 8) / 16; }

static size_t class_bytes(size_t c) { return 16 * c + 8; }

static bool on_owner(void) { return pthread_equal(pthread_self(), cache.owner); }

/* Takes the first block of class c (there is one). */
static struct free_block *pop(size_t c) {
    struct free_block *b = cache.head[c];
    VALGRIND_MAKE_MEM_DEFINED(b, sizeof(*b));
    cache.head[c] = b->next;
    return b;
}

static void *cache_malloc(size_t n) {
    size_t c = class_for_request(n);
    if (c < CLASSES && cache.head[c] && on_owner()) {
        struct free_block *b = pop(c);
        cache.count[c]--;
        cache.bytes -= class_bytes(c);
        VALGRIND_MAKE_MEM_UNDEFINED(b, n);
        return b;
    }
    return malloc(n);
}

static void cache_free(void *p) {
    if (!p) return;
    size_t usable = malloc_usable_size(p), c = class_of_block(usable);
    if (c < CLASSES && cache.count[c] < EV_CACHE_CLASS_BLOCKS &&
        cache.bytes + class_bytes(c) <= EV_CACHE_BYTES && on_owner()) {
        struct free_block *b = p;
        b->next = cache.head[c];
        cache.head[c] = b;
        cache.count[c]++;
        cache.bytes += class_bytes(c);
        VALGRIND_MAKE_MEM_NOACCESS(p, usable);
        return;
    }
    free(p);
}

void ev_cache_install(void) {
    if (!EV_CACHE_ON) return;
    cache.owner = pthread_self();
    event_set_mem_functions(cache_malloc, realloc, cache_free);
}

void ev_cache_release(void) {
    for (size_t c = 0; c < CLASSES; c++) {
        while (cache.head[c]) free(pop(c));
        cache.count[c] = 0;
    }
    cache.bytes = 0;
}
