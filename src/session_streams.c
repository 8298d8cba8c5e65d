/* session_streams: the index session -> open streams, a chained hash
 * table of links; see session_streams.h. */
#include "session_streams.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS_MIN 64

struct session_streams {
    struct session_stream_link **buckets; /* nbuckets chains */
    size_t nbuckets;                      /* a power of two */
    size_t count;                         /* links in the index */
};

struct session_streams *session_streams_new(size_t expected) {
    struct session_streams *ss = calloc(1, sizeof(*ss));
    if (!ss) return NULL;
    ss->nbuckets = BUCKETS_MIN;
    while (ss->nbuckets < expected && ss->nbuckets < ((size_t)1 << 20)) ss->nbuckets *= 2;
    ss->buckets = calloc(ss->nbuckets, sizeof(struct session_stream_link *));
    if (!ss->buckets) {
        free(ss);
        return NULL;
    }
    return ss;
}

void session_streams_free(struct session_streams *ss) {
    if (!ss) return;
    free(ss->buckets);
    free(ss);
}

static bool hash_valid(const char *hash, size_t len) { return token_hash_well_formed(hash, len); }

/* The bucket of a valid hash: its first 16 digits (a SHA-256's digits are
 * uniform already). */
static size_t bucket_of(const struct session_streams *ss, const char *hash) {
    uint64_t k = 0;
    for (int i = 0; i < 16; i++) {
        char ch = hash[i];
        k = k << 4 | (uint64_t)(ch <= '9' ? ch - '0' : ch - 'a' + 10);
    }
    return (size_t)(k & (ss->nbuckets - 1));
}

struct session_stream_link *session_streams_add(struct session_streams *ss, const char *hash,
                                                session_stream_end_fn *end, void *arg) {
    if (!ss || !hash || !hash_valid(hash, strnlen(hash, TOKEN_HASH_LEN + 1))) return NULL;
    struct session_stream_link *link = calloc(1, sizeof(*link));
    if (!link) return NULL;
    memcpy(link->hash, hash, TOKEN_HASH_LEN + 1);
    link->end = end;
    link->arg = arg;
    struct session_stream_link **head = &ss->buckets[bucket_of(ss, hash)];
    link->prev = NULL;
    link->next = *head;
    if (*head) (*head)->prev = link;
    *head = link;
    link->linked = true;
    ss->count++;
    return link;
}

/* Takes link out of its bucket; it stays the stream's. */
static void unlink_one(struct session_streams *ss, struct session_stream_link *link) {
    if (!link->linked) return;
    if (link->prev) link->prev->next = link->next;
    else ss->buckets[bucket_of(ss, link->hash)] = link->next;
    if (link->next) link->next->prev = link->prev;
    link->prev = link->next = NULL;
    link->linked = false;
    ss->count--;
}

void session_streams_remove(struct session_streams *ss, struct session_stream_link **link) {
    if (!link || !*link) return;
    if (ss) unlink_one(ss, *link);
    free(*link);
    *link = NULL;
}

/* The first link of hash in its bucket, or NULL. */
static struct session_stream_link *find(const struct session_streams *ss, const char *hash) {
    struct session_stream_link *l = ss->buckets[bucket_of(ss, hash)];
    while (l && memcmp(l->hash, hash, TOKEN_HASH_LEN) != 0) l = l->next;
    return l;
}

/* One at a time, each out of the index before its end runs: an end may
 * free its stream and link, or end others, without spoiling the walk. */
size_t session_streams_end(struct session_streams *ss, const char *hash) {
    if (!ss || !hash || !hash_valid(hash, strnlen(hash, TOKEN_HASH_LEN + 1))) return 0;
    size_t ended = 0;
    struct session_stream_link *l;
    while ((l = find(ss, hash))) {
        unlink_one(ss, l);
        l->end(l->arg); /* may free l, through session_streams_remove */
        ended++;
    }
    return ended;
}

size_t session_streams_end_listed(struct session_streams *ss, const char *msg, size_t len) {
    size_t ended = 0;
    for (size_t at = 0; at < len;) {
        size_t word = 0;
        while (at + word < len && msg[at + word] != ' ') word++;
        if (hash_valid(msg + at, word)) {
            char hash[TOKEN_HASH_LEN + 1];
            memcpy(hash, msg + at, TOKEN_HASH_LEN);
            hash[TOKEN_HASH_LEN] = '\0';
            ended += session_streams_end(ss, hash);
        }
        at += word + 1;
    }
    return ended;
}

size_t session_streams_count(const struct session_streams *ss) { return ss ? ss->count : 0; }
