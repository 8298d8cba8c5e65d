/* presence_merge: one presence event out of many signals, see presence_merge.h. */
#include "presence_merge.h"

#include <jansson.h>
#include <stdlib.h>

struct presence_merge {
    json_t *changes;   /* userId -> {"name"?, "joined": bool}: each user's last change */
    long long count;   /* the newest count heard */
    size_t changed;    /* changes heard, counting repeats */
    bool pending;      /* something was added since the last take */
};

struct presence_merge *presence_merge_new(void) {
    struct presence_merge *m = calloc(1, sizeof(*m));
    if (m && !(m->changes = json_object())) {
        free(m);
        return NULL;
    }
    return m;
}

void presence_merge_free(struct presence_merge *m) {
    if (!m) return;
    json_decref(m->changes);
    free(m);
}

/* Records the users of list (an array of {"userId","name"?}) as joined or
 * left; a user's later change replaces an earlier one. */
static void add_list(struct presence_merge *m, json_t *list, bool joined) {
    size_t i;
    json_t *user;
    json_array_foreach(list, i, user) {
        const char *id = json_string_value(json_object_get(user, "userId"));
        if (!id || !*id) continue;
        json_t *change = json_pack("{s:b}", "joined", joined);
        json_t *name = json_object_get(user, "name");
        if (change && joined && json_is_string(name))
            json_object_set(change, "name", name);
        if (change) json_object_set_new(m->changes, id, change);
        m->changed++;
    }
}

int presence_merge_add(struct presence_merge *m, const char *json, size_t len) {
    json_t *sig = json_loadb(json, len, 0, NULL);
    json_t *count = json_object_get(sig, "count");
    if (!json_is_integer(count)) {
        json_decref(sig);
        return -1;
    }
    m->count = json_integer_value(count);
    add_list(m, json_object_get(sig, "joined"), true);
    add_list(m, json_object_get(sig, "left"), false);
    m->pending = true;
    json_decref(sig);
    return 0;
}

bool presence_merge_pending(const struct presence_merge *m) { return m && m->pending; }

/* Adds the "joined" and "left" lists of the changes to ev. */
static void put_lists(json_t *ev, json_t *changes) {
    json_t *joined = json_array(), *left = json_array();
    const char *id;
    json_t *change;
    json_object_foreach(changes, id, change) {
        bool in = json_is_true(json_object_get(change, "joined"));
        json_t *user = json_pack("{s:s}", "userId", id);
        if (user && in) json_object_set(user, "name", json_object_get(change, "name"));
        if (user) json_array_append_new(in ? joined : left, user);
    }
    json_object_set_new(ev, "joined", joined);
    json_object_set_new(ev, "left", left);
}

char *presence_merge_take(struct presence_merge *m, const char *room) {
    json_t *ev = json_pack("{s:s,s:I}", "room", room, "count", (json_int_t)m->count);
    if (!ev) return NULL;
    if (m->changed > PRESENCE_MERGE_LIST_MAX)
        json_object_set_new(ev, "changes", json_integer((json_int_t)m->changed));
    else
        put_lists(ev, m->changes);
    char *text = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    json_object_clear(m->changes);
    m->changed = 0;
    m->pending = false;
    return text;
}
