/*
 * routes_room: the room list. GET /room/ lists the rooms (lobby always
 * first, the others by name); POST /room/ {"name"} creates one (a session
 * is needed). Each room's messages live at /room/<name>/message/, in a
 * stream of its own hash slot, so rooms spread over the cluster's masters.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "json.h"
#include "request_body.h"
#include "routes.h"
#include "server.h"
#include "store.h"
#include "token.h"
#include "validate.h"

static int by_name(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void on_list(enum store_status st, const char *const *names, size_t n, void *arg) {
    struct request *r = arg;
    if (st != STORE_OK) {
        http_reply_error(r, API_E_UNAVAILABLE, NULL);
        return;
    }
    const char **sorted = n ? malloc(n * sizeof(*sorted)) : NULL;
    if (n && !sorted) {
        http_reply_error(r, API_E_INTERNAL, NULL);
        return;
    }
    if (n) { /* qsort and memcpy want a pointer even for nothing */
        memcpy(sorted, names, n * sizeof(*sorted));
        qsort(sorted, n, sizeof(*sorted), by_name);
    }
    json_t *list = json_array();
    json_array_append_new(list, json_pack("{s:s}", "name", STORE_ROOM_LOBBY));
    for (size_t i = 0; i < n; i++)
        if (strcmp(sorted[i], STORE_ROOM_LOBBY) != 0)
            json_array_append_new(list, json_pack("{s:s}", "name", sorted[i]));
    free(sorted);
    http_reply_json(r, 200, list);
}

void route_room_list(struct request *r) {
    if (store_room_list(r->srv->store, on_list, r) < 0)
        http_reply_error(r, API_E_UNAVAILABLE, NULL);
}

/* POST /room/: first the session, then the name goes into the list. */
struct create_op {
    struct request *r;
    char name[CHAT_ROOM_MAX + 1];
};

static void on_added(enum store_status st, void *arg) {
    struct create_op *op = arg;
    if (st == STORE_OK || st == STORE_EXISTS)
        http_reply_json(op->r, st == STORE_OK ? 201 : 200, json_pack("{s:s}", "name", op->name));
    else
        http_reply_error(op->r, st == STORE_FULL ? API_E_STORAGE_FULL : API_E_UNAVAILABLE, NULL);
    free(op);
}

static void on_session(enum store_status st, const struct session_user *u, void *arg) {
    (void)u;
    struct create_op *op = arg;
    if (st != STORE_OK || store_room_add(op->r->srv->store, op->name, on_added, op) < 0) {
        http_reply_error(op->r, st == STORE_NOT_FOUND ? API_E_UNAUTHORIZED : API_E_UNAVAILABLE,
                         NULL);
        free(op);
    }
}

void route_room_create(struct request *r) {
    char hash[TOKEN_HASH_LEN + 1];
    if (!routes_session_hash_or_401(r, hash)) return;
    json_t *body = NULL; /* set only when the body parses */
    char name[CHAT_ROOM_MAX + 1];
    api_error e = http_body_json(r, &body);
    if (e == API_E_OK) e = request_body_room(body, name);
    struct create_op *op = e == API_E_OK ? calloc(1, sizeof(*op)) : NULL;
    if (op) memcpy(op->name, name, sizeof(name));
    json_decref(body);
    if (!op) {
        http_reply_error(r, e != API_E_OK ? e : API_E_INTERNAL, NULL);
        return;
    }
    op->r = r;
    if (store_session_get(r->srv->store, hash, r->srv->cfg.session_ttl, on_session, op) < 0) {
        http_reply_error(r, API_E_UNAVAILABLE, NULL);
        free(op);
    }
}
