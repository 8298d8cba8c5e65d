/* reply_arena: one arena per hiredis reply, see reply_arena.h. */
#include "reply_arena.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 16             /* every object starts on this boundary */
#define FIRST_EXTRA 1024     /* room after a root array's element pointers */
#define GROW_MIN 4096        /* the first block after the first */
#define GROW_MAX (1u << 20)  /* blocks stop doubling here */

/* A block of the arena after the first one. */
struct block {
    struct block *next;        /* the block allocated before it */
    alignas(ALIGN) char data[]; /* objects */
};

/* A reply and everything it points to. */
struct arena {
    redisReply root;           /* the reply hiredis hands to the callback */
    char *next, *end;          /* free space in the current block */
    struct block *blocks;      /* blocks after the first, newest first */
    size_t grow;               /* size of the next block */
    alignas(ALIGN) char first[]; /* the first block, sized for the root */
};

static size_t round_up(size_t n) { return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1); }

static struct arena *arena_new(size_t first_size) {
    first_size = round_up(first_size);
    struct arena *a = malloc(sizeof(*a) + first_size);
    if (!a) return NULL;
    memset(&a->root, 0, sizeof(a->root));
    a->next = a->first;
    a->end = a->first + first_size;
    a->blocks = NULL;
    a->grow = GROW_MIN;
    return a;
}

/* Takes a new block of at least n bytes and allocates n from it. */
static void *arena_grow(struct arena *a, size_t n) {
    size_t size = a->grow > n ? a->grow : n;
    struct block *b = malloc(sizeof(*b) + size);
    if (!b) return NULL;
    b->next = a->blocks;
    a->blocks = b;
    a->next = b->data + n;
    a->end = b->data + size;
    if (a->grow < GROW_MAX) a->grow *= 2;
    return b->data;
}

static inline void *arena_alloc(struct arena *a, size_t n) {
    n = round_up(n);
    if ((size_t)(a->end - a->next) < n) return arena_grow(a, n);
    void *p = a->next;
    a->next += n;
    return p;
}

static struct arena *arena_of_root(redisReply *root) {
    return (struct arena *)((char *)root - offsetof(struct arena, root));
}

/* The arena of the reply task belongs to: its root task's object. */
static struct arena *arena_of_task(const redisReadTask *task) {
    while (task->parent) task = task->parent;
    return arena_of_root(task->obj);
}

static void reply_init(redisReply *r, int type) {
    *r = (redisReply){.type = type};
}

/* A new object for task, with extra bytes after it (*extra points to them):
 * the root of a new arena (the extra bytes in its first block, with
 * first_more bytes more for what it will point to), or an object in its
 * root's arena, linked into its parent. */
static redisReply *object_new(const redisReadTask *task, int type, size_t extra,
                              size_t first_more, char **extra_out) {
    redisReply *r;
    char *more;
    if (!task->parent) {
        struct arena *a = arena_new(round_up(extra) + first_more);
        if (!a) return NULL;
        r = &a->root;
        more = a->first; /* the extra bytes open the first block */
        a->next += round_up(extra);
    } else {
        size_t head = round_up(sizeof(*r));
        r = arena_alloc(arena_of_task(task), head + extra);
        if (!r) return NULL;
        more = (char *)r + head;
        ((redisReply *)task->parent->obj)->element[task->idx] = r;
    }
    reply_init(r, type);
    if (extra_out) *extra_out = more;
    return r;
}

static void *create_string(const redisReadTask *task, char *str, size_t len) {
    char *copy;
    redisReply *r = object_new(task, task->type, len + 1, 0, &copy);
    if (!r) return NULL; /* the reader fails; the root frees what exists */
    memcpy(copy, str, len);
    copy[len] = '\0';
    r->str = copy;
    r->len = len;
    return r;
}

static void *create_array(const redisReadTask *task, int elements) {
    size_t n = elements > 0 ? (size_t)elements : 0;
    char *slots;
    redisReply *r = object_new(task, REDIS_REPLY_ARRAY, n * sizeof(redisReply *), FIRST_EXTRA,
                               &slots);
    if (!r) return NULL;
    if (n) {
        r->element = (redisReply **)(void *)slots;
        memset(r->element, 0, n * sizeof(redisReply *));
    }
    r->elements = n;
    return r;
}

static void *create_integer(const redisReadTask *task, long long value) {
    redisReply *r = object_new(task, REDIS_REPLY_INTEGER, 0, 0, NULL);
    if (r) r->integer = value;
    return r;
}

static void *create_nil(const redisReadTask *task) {
    return object_new(task, REDIS_REPLY_NIL, 0, 0, NULL);
}

/* hiredis frees only the root of a reply: the whole arena goes with it. */
static void free_reply(void *reply) {
    if (!reply) return;
    struct arena *a = arena_of_root(reply);
    while (a->blocks) {
        struct block *b = a->blocks;
        a->blocks = b->next;
        free(b);
    }
    free(a);
}

static redisReplyObjectFunctions arena_functions = {
    create_string, create_array, create_integer, create_nil, free_reply,
};

void reply_arena_attach(redisAsyncContext *ctx) { ctx->c.reader->fn = &arena_functions; }
