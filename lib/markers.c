/* markers: the client library's read markers and room list with unread
 * counts (docs/API.md, "Read markers and unread counts"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

int chat_room_read(chat_client *c, const char *room, const char *id) {
    unsigned long long part[2];
    if (chat__client_begin(c) != CHAT_OK) return CHAT_ERR_USAGE;
    if (!chat_client_token(c)) return chat__client_fail(c, CHAT_ERR_USAGE, "not logged in");
    if (!room || !chat_wire_room_valid(room))
        return chat__client_fail(c, CHAT_ERR_USAGE, "a room name is 1 to 64 of a-z 0-9 _ -");
    if (!id || chat_wire_stream_id_parse(id, part) < 0)
        return chat__client_fail(c, CHAT_ERR_USAGE, "a message id is <ms>-<seq>");
    char path[128];
    snprintf(path, sizeof path, "/room/%s/read", room);
    json_t *body = json_pack("{s:s}", "id", id);
    if (!body) return chat__client_fail(c, CHAT_ERR_NOMEM, "out of memory");
    chat_request req = {"PUT", path, body, 1, 1, NULL}; /* a marker only moves forward */
    int rc = chat__client_call(c, &req, NULL);
    json_decref(body);
    return rc;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* Fills e from one entry of the list; -1 when out of memory. */
static int entry_read(chat_room_entry *e, const json_t *v) {
    const char *name = json_string_value(json_object_get(v, "name"));
    json_t *unread = json_object_get(v, "unread");
    e->name = dup_or_null(name ? name : "");
    e->kind = dup_or_null(json_string_value(json_object_get(v, "kind")));
    e->role = dup_or_null(json_string_value(json_object_get(v, "role")));
    e->marker = dup_or_null(json_string_value(json_object_get(v, "marker")));
    e->unread = json_is_integer(unread) ? (int)json_integer_value(unread) : -1;
    return e->name ? 0 : -1;
}

int chat_rooms(chat_client *c, chat_room_list *out) {
    memset(out, 0, sizeof(*out));
    if (chat__client_begin(c) != CHAT_OK) return CHAT_ERR_USAGE;
    json_t *root = NULL;
    chat_request req = {"GET", "/room/?limit=1000", NULL, 1, 1, NULL};
    int rc = chat__client_call(c, &req, &root);
    if (rc == CHAT_OK && !json_is_array(root))
        rc = chat__client_fail(c, CHAT_ERR_PROTOCOL, "the room list is not an array");
    size_t n = rc == CHAT_OK ? json_array_size(root) : 0;
    chat_room_entry *rooms = n ? calloc(n, sizeof(*rooms)) : NULL;
    if (n && !rooms) rc = chat__client_fail(c, CHAT_ERR_NOMEM, "out of memory");
    out->rooms = rooms;
    for (size_t i = 0; rc == CHAT_OK && rooms && i < n; i++, out->count++)
        if (entry_read(&rooms[i], json_array_get(root, i)) < 0)
            rc = chat__client_fail(c, CHAT_ERR_NOMEM, "out of memory");
    json_decref(root);
    if (rc != CHAT_OK) chat_room_list_cleanup(out);
    return rc;
}

void chat_room_list_cleanup(chat_room_list *list) {
    for (size_t i = 0; list->rooms && i < list->count; i++) {
        free(list->rooms[i].name);
        free(list->rooms[i].kind);
        free(list->rooms[i].role);
        free(list->rooms[i].marker);
    }
    free(list->rooms);
    memset(list, 0, sizeof(*list));
}
