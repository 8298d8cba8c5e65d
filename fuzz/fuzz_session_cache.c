/*
 * fuzz_session_cache: any bytes as a program of operations on a small
 * session cache (src/session_cache.c): reads sent and answered (fills, under
 * the epoch they were sent at), lookups, forgets, removes, flushes, going
 * live or not, time passing, and "sessions ended" messages, built from the
 * known sessions or taken raw from the input. A simple model of what the
 * cache may know runs alongside; the invariant is the cache's promise: a
 * lookup never answers a session that ended, was flushed, is too old or
 * was stored under a stale epoch, and answers the user last stored. The
 * cache never holds more than its capacity.
 */
#include "fuzz.h"
#include "session_cache.h"

#define KEYS 8
#define CAPACITY 4
#define MAX_AGE 50

/* What the model believes the cache may answer for one session. */
struct model_entry {
    bool present;        /* a fill was accepted since the last forget or flush */
    long long fetched;   /* that fill's time */
    unsigned variant;    /* which user it stored */
};

struct run {
    struct session_cache *cache;
    char hash[KEYS][SESSION_CACHE_HASH_LEN + 1];
    struct model_entry model[KEYS];
    bool live;
    unsigned long long epoch;      /* the model's own count of epoch changes */
    unsigned long long sent_epoch; /* a read in flight: the epoch it was sent at */
    unsigned long long sent_model_epoch;
    long long now;
};

static struct session_user user_of(unsigned key, unsigned variant) {
    struct session_user u;
    memset(&u, 0, sizeof(u));
    snprintf(u.id, sizeof(u.id), "%032u", key);
    snprintf(u.email, sizeof(u.email), "k%u@example.com", key);
    snprintf(u.name, sizeof(u.name), "name %u of %u", variant, key);
    return u;
}

static void model_forget_all(struct run *r) {
    for (int k = 0; k < KEYS; k++) r->model[k].present = false;
    r->epoch++;
}

static void fill(struct run *r, unsigned k, unsigned variant) {
    struct session_user u = user_of(k, variant);
    session_cache_fill(r->cache, r->hash[k], &u, r->now, r->sent_epoch);
    if (r->live && r->sent_model_epoch == r->epoch)
        r->model[k] = (struct model_entry){true, r->now, variant};
}

static void lookup(struct run *r, unsigned k) {
    struct session_user got;
    if (!session_cache_lookup(r->cache, r->hash[k], r->now, &got)) return;
    const struct model_entry *m = &r->model[k];
    FUZZ_ASSERT(r->live && m->present && r->now - m->fetched < MAX_AGE);
    struct session_user want = user_of(k, m->variant);
    FUZZ_ASSERT(strcmp(got.id, want.id) == 0 && strcmp(got.email, want.email) == 0 &&
                strcmp(got.name, want.name) == 0);
}

/* Applies msg and mirrors it: a flush, or each known hash it lists forgotten. */
static void message(struct run *r, const char *msg, size_t len) {
    int n = session_cache_apply_message(r->cache, msg, len);
    if (n < 0) {
        model_forget_all(r);
        return;
    }
    FUZZ_ASSERT((len + 1) % (SESSION_CACHE_HASH_LEN + 1) == 0 &&
                (size_t)n == (len + 1) / (SESSION_CACHE_HASH_LEN + 1));
    for (size_t at = 0; at < len; at += SESSION_CACHE_HASH_LEN + 1) {
        r->epoch++;
        for (int k = 0; k < KEYS; k++)
            if (memcmp(msg + at, r->hash[k], SESSION_CACHE_HASH_LEN) == 0) r->model[k].present = false;
    }
}

/* A message listing the sessions of mask, one character then changed. */
static void built_message(struct run *r, uint8_t mask, uint8_t change) {
    char msg[KEYS * (SESSION_CACHE_HASH_LEN + 1)];
    size_t len = 0;
    for (int k = 0; k < KEYS; k++) {
        if (!(mask & (1u << k))) continue;
        if (len) msg[len++] = ' ';
        memcpy(msg + len, r->hash[k], SESSION_CACHE_HASH_LEN);
        len += SESSION_CACHE_HASH_LEN;
    }
    if (len && change >= 128) msg[change % len] = "0a f-Z"[change % 6];
    message(r, msg, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct run r;
    memset(&r, 0, sizeof(r));
    r.cache = session_cache_new(CAPACITY, MAX_AGE);
    FUZZ_ASSERT(r.cache);
    for (int k = 0; k < KEYS; k++) /* keys 0 and 1 share a bucket and their first 16 digits */
        snprintf(r.hash[k], sizeof(r.hash[k]), "%016x%048x", k / 2 * 0x9e3779b9u, (unsigned)k);
    for (size_t i = 0; i + 1 < size; i += 2) {
        uint8_t op = data[i] % 11, arg = data[i + 1];
        unsigned k = arg % KEYS;
        switch (op) {
        case 0: /* a read is sent now */
            r.sent_epoch = session_cache_epoch(r.cache);
            r.sent_model_epoch = r.epoch;
            break;
        case 1: fill(&r, k, arg / KEYS); break;
        case 2: lookup(&r, k); break;
        case 3:
            session_cache_forget(r.cache, r.hash[k]);
            r.model[k].present = false;
            r.epoch++;
            break;
        case 4: /* a read found nothing: dropped, the epoch unchanged */
            session_cache_remove(r.cache, r.hash[k]);
            r.model[k].present = false;
            break;
        case 5: session_cache_flush(r.cache); model_forget_all(&r); break;
        case 6:
            r.live = arg & 1;
            session_cache_set_live(r.cache, r.live);
            model_forget_all(&r);
            break;
        case 7: r.now += arg; break;
        case 8:
            if (i + 2 < size) built_message(&r, arg, data[i + 2]);
            break;
        case 9: { /* a raw message: the rest of the input, up to arg bytes */
            size_t len = size - i - 2 < arg ? size - i - 2 : arg;
            message(&r, (const char *)data + i + 2, len);
            i += len;
            break;
        }
        default:
            for (unsigned j = 0; j < KEYS; j++) lookup(&r, j);
            break;
        }
        FUZZ_ASSERT(session_cache_stats(r.cache).entries <= CAPACITY);
        FUZZ_ASSERT(session_cache_is_live(r.cache) == r.live);
    }
    session_cache_free(r.cache);
    return 0;
}
