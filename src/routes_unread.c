/*
 * routes_unread: the read markers and unread counts of a room list
 * (GET /room/ with a session): the caller's markers in one read of the
 * user's slot, then one count per listed room on the room's slot, all
 * sent at once (store_unread_counts), so that a list of a hundred rooms
 * costs two round trips, not a hundred. A count is the messages after the
 * marker that others wrote, up to CHAT_UNREAD_CAP (room events are not
 * messages).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routes.h"
#include "server.h"
#include "store.h"

struct unread_op {
    json_t *list;                       /* the caller's, with a reference held */
    routes_unread_fn *done;
    void *arg;
    struct store *store;
    char user_id[CHAT_USER_ID_LEN + 1];
    size_t n;                           /* entries of list */
    struct store_unread rooms[];        /* one per entry */
};

static void unread_finish(struct unread_op *op, api_error e) {
    op->done(e, op->arg);
    json_decref(op->list);
    free(op);
}

static void on_counted(enum store_status st, void *arg) {
    struct unread_op *op = arg;
    if (st != STORE_OK) {
        unread_finish(op, routes_store_error(st));
        return;
    }
    for (size_t i = 0; i < op->n; i++)
        json_object_set_new(json_array_get(op->list, i), "unread",
                            json_integer(op->rooms[i].count));
    unread_finish(op, API_E_OK);
}

/* Each entry gets its marker (kept in the entry, which the counts read). */
static void on_markers(enum store_status st, const char *const *fields, size_t n, void *arg) {
    struct unread_op *op = arg;
    if (st != STORE_OK) {
        unread_finish(op, routes_store_error(st));
        return;
    }
    json_t *markers = json_object();
    for (size_t i = 0; markers && i < n; i++)
        json_object_set_new(markers, fields[2 * i], json_string(fields[2 * i + 1]));
    for (size_t i = 0; i < op->n; i++) {
        json_t *entry = json_array_get(op->list, i);
        const char *room = json_string_value(json_object_get(entry, "name"));
        json_t *marker = json_object_get(markers, room ? room : "");
        if (marker) json_object_set(entry, "marker", marker);
        op->rooms[i] = (struct store_unread){.room = room ? room : "",
                                             .after = json_string_value(marker)};
    }
    json_decref(markers);
    if (store_unread_counts(op->store, op->user_id, op->rooms, op->n, CHAT_UNREAD_CAP,
                            on_counted, op) < 0)
        unread_finish(op, API_E_UNAVAILABLE);
}

int routes_unread_annotate(struct server *srv, const char *user_id, json_t *list,
                           routes_unread_fn *done, void *arg) {
    size_t n = json_array_size(list);
    if (n == 0) return -1;
    struct unread_op *op = calloc(1, sizeof(*op) + n * sizeof(op->rooms[0]));
    if (!op) return -1;
    *op = (struct unread_op){.list = json_incref(list), .done = done, .arg = arg,
                             .store = srv->store, .n = n};
    snprintf(op->user_id, sizeof(op->user_id), "%s", user_id);
    if (store_markers_get(srv->store, user_id, on_markers, op) < 0) {
        json_decref(list);
        free(op);
        return -1;
    }
    return 0;
}
