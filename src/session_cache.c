/*
 * session_cache: a chained hash table of session entries plus a list of the
 * same entries from the oldest fetch to the newest, for eviction and the
 * expiry sweep; see session_cache.h.
 */
#include "session_cache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One cached session. The e-mail, the name and the rooms follow the
 * struct, each NUL-terminated, so that an entry takes what its strings
 * need. */
struct entry {
    struct entry *chain;          /* next entry of the same bucket */
    struct entry *older, *newer;  /* neighbours in the age list */
    long long fetched_ms;         /* when the read that filled it was sent */
    uint64_t key;                 /* the first 16 hex digits of hash, as a number */
    char hash[SESSION_CACHE_HASH_LEN + 1];
    char id[CHAT_USER_ID_LEN + 1];
    long long expires_ms;         /* the session's end (0: only its TTL) */
    bool rooms_limited;           /* the rooms in text are all it may write to */
    size_t email_len;             /* bytes of the e-mail in text */
    size_t name_len;              /* bytes of the name in text */
    char text[];                  /* "<email>\0<name>\0<rooms>\0" */
};

struct session_cache {
    struct entry **buckets;       /* nbuckets chains */
    size_t nbuckets;              /* a power of two */
    size_t capacity;              /* entries at most */
    long long max_age_ms;         /* an entry answers this long after its fetch */
    struct entry *oldest, *newest; /* the age list */
    bool live;                    /* the subscription is confirmed */
    unsigned long long epoch;     /* advanced by every change that can stale a read */
    struct session_cache_stats stats;
};

struct session_cache *session_cache_new(size_t capacity, long long max_age_ms) {
    if (capacity < 1) return NULL;
    struct session_cache *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->nbuckets = 16;
    while (c->nbuckets < capacity) c->nbuckets *= 2;
    c->buckets = calloc(c->nbuckets, sizeof(struct entry *));
    if (!c->buckets) {
        free(c);
        return NULL;
    }
    c->capacity = capacity;
    c->max_age_ms = max_age_ms;
    return c;
}

static int hex_value(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    return -1;
}

/* True when hash[0..len) is a session hash: exactly SESSION_CACHE_HASH_LEN
 * lower-case hex digits. Only such hashes are stored. */
static bool hash_valid(const char *hash, size_t len) {
    if (len != SESSION_CACHE_HASH_LEN) return false;
    for (size_t i = 0; i < len; i++)
        if (hex_value(hash[i]) < 0) return false;
    return true;
}

/* The table key of a NUL-terminated hash: its first 16 digits as a number
 * (the hash is a SHA-256: its digits are already uniform). False when it
 * cannot be a session hash; the other digits need no check here, since a
 * stored hash is valid and the comparison with it settles them. */
static bool key_of(const char *hash, uint64_t *key) {
    if (strnlen(hash, SESSION_CACHE_HASH_LEN + 1) != SESSION_CACHE_HASH_LEN) return false;
    uint64_t k = 0;
    for (int i = 0; i < 16; i++) {
        int v = hex_value(hash[i]);
        if (v < 0) return false;
        k = k << 4 | (uint64_t)v;
    }
    *key = k;
    return true;
}

static struct entry **slot_of(struct session_cache *c, const char *hash, uint64_t key) {
    struct entry **p = &c->buckets[key & (c->nbuckets - 1)];
    while (*p && ((*p)->key != key || memcmp((*p)->hash, hash, SESSION_CACHE_HASH_LEN) != 0))
        p = &(*p)->chain;
    return p;
}

/* Unlinks e (found at *slot of its chain) from the table and the age list
 * and frees it. */
static void entry_drop(struct session_cache *c, struct entry **slot, struct entry *e) {
    *slot = e->chain;
    if (e->older) e->older->newer = e->newer;
    else c->oldest = e->newer;
    if (e->newer) e->newer->older = e->older;
    else c->newest = e->older;
    c->stats.entries--;
    free(e);
}

static void drop_by_hash(struct session_cache *c, const char *hash, uint64_t key) {
    struct entry **slot = slot_of(c, hash, key);
    if (*slot) entry_drop(c, slot, *slot);
}

static void drop_all(struct session_cache *c) {
    struct entry *e = c->oldest, *next;
    for (; e; e = next) {
        next = e->newer;
        free(e);
    }
    memset(c->buckets, 0, c->nbuckets * sizeof(struct entry *));
    c->oldest = c->newest = NULL;
    c->stats.entries = 0;
}

void session_cache_free(struct session_cache *c) {
    if (!c) return;
    drop_all(c);
    free(c->buckets);
    free(c);
}

void session_cache_flush(struct session_cache *c) {
    if (!c) return;
    drop_all(c);
    c->epoch++;
    c->stats.flushes++;
}

void session_cache_set_live(struct session_cache *c, bool live) {
    if (!c) return;
    if (c->live && !live) c->stats.flushes++; /* only entries of a live cache were answering */
    drop_all(c);
    c->epoch++;
    c->live = live;
}

bool session_cache_is_live(const struct session_cache *c) { return c && c->live; }

unsigned long long session_cache_epoch(const struct session_cache *c) { return c ? c->epoch : 0; }

bool session_cache_lookup(struct session_cache *c, const char *hash, long long now_ms,
                          struct session_user *out) {
    uint64_t key;
    if (!c) return false;
    if (!c->live || !key_of(hash, &key)) {
        c->stats.misses++;
        return false;
    }
    struct entry **slot = slot_of(c, hash, key);
    struct entry *e = *slot;
    if (e && now_ms - e->fetched_ms >= c->max_age_ms) {
        entry_drop(c, slot, e);
        e = NULL;
    }
    if (!e) {
        c->stats.misses++;
        return false;
    }
    memcpy(out->id, e->id, sizeof(out->id));
    const char *name = e->text + e->email_len + 1, *rooms = name + e->name_len + 1;
    memcpy(out->email, e->text, e->email_len + 1);
    memcpy(out->name, name, e->name_len + 1);
    memcpy(out->rooms, rooms, strlen(rooms) + 1);
    out->expires_ms = e->expires_ms;
    out->rooms_limited = e->rooms_limited;
    c->stats.hits++;
    return true;
}

/* Drops entries too old to answer from the old end of the age list (it is
 * in fetch order but for replies that crossed, so this is a sweep, not a
 * guarantee: lookups check the age themselves). */
static void sweep(struct session_cache *c, long long now_ms) {
    while (c->oldest && now_ms - c->oldest->fetched_ms >= c->max_age_ms)
        drop_by_hash(c, c->oldest->hash, c->oldest->key);
}

void session_cache_fill(struct session_cache *c, const char *hash, const struct session_user *u,
                        long long fetched_ms, unsigned long long epoch) {
    uint64_t key;
    if (!c || !c->live || epoch != c->epoch || !key_of(hash, &key) ||
        !hash_valid(hash, SESSION_CACHE_HASH_LEN))
        return;
    size_t email_len = strnlen(u->email, sizeof(u->email) - 1);
    size_t name_len = strnlen(u->name, sizeof(u->name) - 1);
    size_t rooms_len = u->rooms_limited ? strnlen(u->rooms, sizeof(u->rooms) - 1) : 0;
    struct entry *e = malloc(sizeof(*e) + email_len + 1 + name_len + 1 + rooms_len + 1);
    if (!e) return;
    drop_by_hash(c, hash, key);
    sweep(c, fetched_ms);
    if (c->stats.entries >= c->capacity) drop_by_hash(c, c->oldest->hash, c->oldest->key);
    e->key = key;
    e->fetched_ms = fetched_ms;
    memcpy(e->hash, hash, sizeof(e->hash));
    memcpy(e->id, u->id, sizeof(e->id));
    e->id[CHAT_USER_ID_LEN] = '\0';
    e->email_len = email_len;
    memcpy(e->text, u->email, email_len);
    e->text[email_len] = '\0';
    memcpy(e->text + email_len + 1, u->name, name_len);
    e->text[email_len + 1 + name_len] = '\0';
    e->name_len = name_len;
    memcpy(e->text + email_len + 1 + name_len + 1, u->rooms, rooms_len);
    e->text[email_len + 1 + name_len + 1 + rooms_len] = '\0';
    e->expires_ms = u->expires_ms;
    e->rooms_limited = u->rooms_limited;
    struct entry **bucket = &c->buckets[key & (c->nbuckets - 1)];
    e->chain = *bucket;
    *bucket = e;
    e->older = c->newest;
    e->newer = NULL;
    if (c->newest) c->newest->newer = e;
    else c->oldest = e;
    c->newest = e;
    c->stats.entries++;
}

void session_cache_forget(struct session_cache *c, const char *hash) {
    uint64_t key;
    if (!c) return;
    c->epoch++;
    if (key_of(hash, &key)) drop_by_hash(c, hash, key);
}

void session_cache_remove(struct session_cache *c, const char *hash) {
    uint64_t key;
    if (c && key_of(hash, &key)) drop_by_hash(c, hash, key);
}

int session_cache_apply_message(struct session_cache *c, const char *msg, size_t len) {
    int n = 0;
    if (!c) return 0;
    for (size_t at = 0; at <= len; at += SESSION_CACHE_HASH_LEN + 1) {
        if (len - at < SESSION_CACHE_HASH_LEN || !hash_valid(msg + at, SESSION_CACHE_HASH_LEN) ||
            (len - at > SESSION_CACHE_HASH_LEN && msg[at + SESSION_CACHE_HASH_LEN] != ' ')) {
            session_cache_flush(c);
            return -1;
        }
        if (len - at == SESSION_CACHE_HASH_LEN) break;
    }
    for (size_t at = 0; at < len; at += SESSION_CACHE_HASH_LEN + 1) {
        char hash[SESSION_CACHE_HASH_LEN + 1];
        memcpy(hash, msg + at, SESSION_CACHE_HASH_LEN);
        hash[SESSION_CACHE_HASH_LEN] = '\0';
        session_cache_forget(c, hash);
        c->stats.invalidations++;
        n++;
    }
    return n;
}

struct session_cache_stats session_cache_stats(const struct session_cache *c) {
    struct session_cache_stats none = {0};
    return c ? c->stats : none;
}
