/* store_retention: how much history a room keeps (the trim that appends
 * ask for), what a room's stream still holds (for the gap signal) and
 * whether Redis's memory is full. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_keys.h"
#include "store_private.h"

void store_set_retention(struct store *s, int max_messages, int max_age_s) {
    s->keep_messages = max_messages;
    s->keep_age_s = max_age_s;
}

struct store_trim store_trim_of(const struct store *s) {
    struct store_trim t;
    snprintf(t.max_messages, sizeof(t.max_messages), "%d", s->keep_messages);
    snprintf(t.max_age, sizeof(t.max_age), "%d", s->keep_age_s);
    return t;
}

static const char trim_script[] =
    STORE_TRIM_LUA "trim(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3])\n";

static void on_trimmed(redisReply *r, void *arg) { (void)r, (void)arg; }

void store_trim_sometimes(struct store *s, const char *room, const char *ts) {
    char key[STORE_KEY_MAX], policy[STORE_KEY_MAX];
    /* a count, not a random draw: libsodium's draws are a system call each */
    if (++s->sends_since_trim < STORE_TRIM_EVERY) return;
    s->sends_since_trim = 0;
    if (store_key_room_messages(key, sizeof(key), room) < 0 ||
        store_key_room_retention(policy, sizeof(policy), room) < 0)
        return;
    struct store_trim trim = store_trim_of(s);
    const char *argv[] = {"EVAL", trim_script,       "2",         key, policy,
                          ts,     trim.max_messages, trim.max_age};
    store_command(s, STORE_ACK_PLAIN, key, on_trimmed, NULL, 8, argv, NULL);
}

bool store_is_full_now(const struct store *s) {
    return cluster_get_stats(s->cluster)->storage_full;
}

/* One XINFO STREAM in flight. */
struct retained_op {
    store_retained_fn *cb;
    void *arg;
};

/* Copies a string reply into dst (NUL-terminated); "" when it is not one
 * or does not fit. */
static void copy_id(char *dst, size_t size, const redisReply *v) {
    bool fits = v->type == REDIS_REPLY_STRING && v->len < size;
    memcpy(dst, fits ? v->str : "", fits ? v->len : 0);
    dst[fits ? v->len : 0] = '\0';
}

/* Reads the fields of XINFO STREAM's flat [name, value, ...] reply. */
static void retained_parse(const redisReply *r, struct store_retained *kept) {
    long long length = 0, added = 0;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type != REDIS_REPLY_STRING) continue;
        if (strcmp(k->str, "length") == 0 && v->type == REDIS_REPLY_INTEGER)
            length = v->integer;
        else if (strcmp(k->str, "entries-added") == 0 && v->type == REDIS_REPLY_INTEGER)
            added = v->integer;
        else if (strcmp(k->str, "max-deleted-entry-id") == 0)
            copy_id(kept->deleted, sizeof(kept->deleted), v);
        else if (strcmp(k->str, "first-entry") == 0 && v->type == REDIS_REPLY_ARRAY &&
                 v->elements == 2)
            copy_id(kept->first, sizeof(kept->first), v->element[0]);
    }
    kept->trimmed = added > length;
}

static void on_stream_info(redisReply *r, void *arg) {
    struct retained_op *op = arg;
    struct store_retained kept = {.trimmed = false, .first = "", .deleted = "0-0"};
    enum store_status st = status_of(r);
    if (st == STORE_ERROR && strstr(r->str, "no such key"))
        st = STORE_OK; /* no messages */
    else if (st == STORE_OK && r->type == REDIS_REPLY_ARRAY)
        retained_parse(r, &kept);
    else if (st == STORE_OK)
        st = STORE_ERROR;
    op->cb(st, st == STORE_OK ? &kept : NULL, op->arg);
    free(op);
}

int store_room_retained(struct store *s, const char *room, store_retained_fn *cb, void *arg) {
    char key[STORE_KEY_MAX];
    if (store_key_room_messages(key, sizeof(key), room) < 0) return -1;
    struct retained_op *op = malloc(sizeof(*op));
    if (!op) return -1;
    *op = (struct retained_op){cb, arg};
    const char *argv[] = {"XINFO", "STREAM", key};
    if (store_command(s, STORE_ACK_PLAIN, key, on_stream_info, op, 3, argv, NULL) < 0) {
        free(op);
        return -1;
    }
    return 0;
}
