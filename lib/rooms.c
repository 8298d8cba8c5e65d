/* rooms: the client library's calls about rooms and their members:
 * creating a room (public or private), adding a user, leaving, a direct
 * conversation, a moderator's removal of a message and an author's edit;
 * the member list, joining, roles and bans, removing a member, and a site
 * administrator's lock on an account (docs/API.md, "Private rooms and
 * members"); who is online in a room (docs/API.md, "Typing and presence"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

/* A path of at most 256 bytes, or a usage error on c. */
static int room_path(chat_client *c, char out[256], const char *room, const char *tail) {
    if (!room || !chat_wire_room_valid(room))
        return chat__client_fail(c, CHAT_ERR_USAGE, "a room name is 1 to 64 of a-z 0-9 _ -");
    snprintf(out, 256, "/room/%s/%s", room, tail);
    return CHAT_OK;
}

/* Starts a call that needs a session. */
static int begin_logged_in(chat_client *c) {
    if (chat__client_begin(c) != CHAT_OK) return CHAT_ERR_USAGE;
    if (!chat_client_token(c)) return chat__client_fail(c, CHAT_ERR_USAGE, "not logged in");
    return CHAT_OK;
}

/* Sends method path with a body of two string members (the second may be
 * absent), as the session's user; the answer in *root when root is set. */
static int call_with(chat_client *c, const char *method, const char *path, const char *k1,
                     const char *v1, const char *k2, const char *v2, json_t **root) {
    json_t *body = json_object();
    if (!body || json_object_set_new(body, k1, json_string(v1)) < 0 ||
        (k2 && v2 && json_object_set_new(body, k2, json_string(v2)) < 0)) {
        json_decref(body);
        return chat__client_fail(c, CHAT_ERR_NOMEM, "out of memory");
    }
    chat_request req = {method, path, body, 1, 1, NULL}; /* each of these is safe to repeat */
    int rc = chat__client_call(c, &req, root);
    json_decref(body);
    return rc;
}

/* The body member that names user: "email" for an address, else "userId". */
static const char *user_key(const char *user) {
    return user && strchr(user, '@') ? "email" : "userId";
}

int chat_room_create(chat_client *c, const char *room, int private_room) {
    int rc = begin_logged_in(c);
    if (rc == CHAT_OK) {
        char checked[256]; /* the path is not used: this checks the name */
        rc = room_path(c, checked, room, "");
    }
    if (rc != CHAT_OK) return rc;
    return call_with(c, "POST", "/room/", "name", room, "kind",
                     private_room ? "private" : "public", NULL);
}

int chat_room_add(chat_client *c, const char *room, const char *email) {
    char path[256];
    int rc = begin_logged_in(c);
    if (rc == CHAT_OK) rc = room_path(c, path, room, "member");
    if (rc == CHAT_OK && !email) rc = chat__client_fail(c, CHAT_ERR_USAGE, "whom to add?");
    return rc == CHAT_OK ? call_with(c, "POST", path, user_key(email), email, NULL, NULL, NULL)
                         : rc;
}

int chat_room_leave(chat_client *c, const char *room) {
    char path[256];
    int rc = begin_logged_in(c);
    if (rc == CHAT_OK) rc = room_path(c, path, room, "member");
    if (rc != CHAT_OK) return rc;
    chat_request req = {"DELETE", path, NULL, 1, 1, NULL};
    return chat__client_call(c, &req, NULL);
}

/* The path of message id of room, or a usage error on c. */
static int message_path(chat_client *c, char out[256], const char *room, const char *id) {
    char tail[96];
    unsigned long long part[2];
    if (!id || chat_wire_stream_id_parse(id, part) < 0)
        return chat__client_fail(c, CHAT_ERR_USAGE, "a message id is <ms>-<seq>");
    snprintf(tail, sizeof tail, "message/?id=%s", id);
    return room_path(c, out, room, tail);
}

int chat_message_remove(chat_client *c, const char *room, const char *id) {
    char path[256];
    int rc = begin_logged_in(c);
    if (rc == CHAT_OK) rc = message_path(c, path, room, id);
    if (rc != CHAT_OK) return rc;
    chat_request req = {"DELETE", path, NULL, 1, 0, NULL}; /* a repeat would answer 404 */
    return chat__client_call(c, &req, NULL);
}

int chat_message_edit(chat_client *c, const char *room, const char *id, const char *text) {
    char path[256];
    int rc = begin_logged_in(c);
    if (rc == CHAT_OK) rc = message_path(c, path, room, id);
    if (rc == CHAT_OK && (!text || !*text)) rc = chat__client_fail(c, CHAT_ERR_USAGE, "no text");
    return rc == CHAT_OK ? call_with(c, "PATCH", path, "text", text, NULL, NULL, NULL) : rc;
}

int chat_react(chat_client *c, const char *room, const char *id, const char *emoji, int add) {
    char path[256];
    unsigned long long part[2];
    int rc = begin_logged_in(c);
    if (rc == CHAT_OK && (!id || chat_wire_stream_id_parse(id, part) < 0))
        rc = chat__client_fail(c, CHAT_ERR_USAGE, "a message id is <ms>-<seq>");
    if (rc == CHAT_OK && (!emoji || !*emoji)) rc = chat__client_fail(c, CHAT_ERR_USAGE, "no emoji");
    if (rc == CHAT_OK) {
        char tail[96];
        snprintf(tail, sizeof tail, "message/reaction?id=%s", id);
        rc = room_path(c, path, room, tail);
    }
    return rc == CHAT_OK ? call_with(c, add ? "PUT" : "DELETE", path, "emoji", emoji, NULL, NULL,
                                     NULL)
                         : rc;
}

int chat_dm(chat_client *c, const char *email, char **room_out) {
    if (room_out) *room_out = NULL;
    int rc = begin_logged_in(c);
    if (rc == CHAT_OK && !email) rc = chat__client_fail(c, CHAT_ERR_USAGE, "with whom?");
    json_t *root = NULL;
    if (rc == CHAT_OK) rc = call_with(c, "POST", "/dm/", user_key(email), email, NULL, NULL, &root);
    const char *name = rc == CHAT_OK ? json_string_value(json_object_get(root, "name")) : NULL;
    if (rc == CHAT_OK && !name) rc = chat__client_fail(c, CHAT_ERR_PROTOCOL, "no room name");
    if (rc == CHAT_OK && room_out && !(*room_out = strdup(name)))
        rc = chat__client_fail(c, CHAT_ERR_NOMEM, "out of memory");
    json_decref(root);
    return rc;
}

/* ---- members and moderation ---- */

int chat_room_join(chat_client *c, const char *room) {
    char path[256];
    int rc = begin_logged_in(c);
    if (rc == CHAT_OK) rc = room_path(c, path, room, "member");
    if (rc != CHAT_OK) return rc;
    json_t *body = json_object();
    if (!body) return chat__client_fail(c, CHAT_ERR_NOMEM, "out of memory");
    chat_request req = {"POST", path, body, 1, 1, NULL}; /* joining twice changes nothing */
    rc = chat__client_call(c, &req, NULL);
    json_decref(body);
    return rc;
}

int chat_room_set_role(chat_client *c, const char *room, const char *user, const char *role) {
    char path[256];
    int rc = begin_logged_in(c);
    if (rc == CHAT_OK) rc = room_path(c, path, room, "member");
    if (rc == CHAT_OK && (!user || !*user || !role || !*role))
        rc = chat__client_fail(c, CHAT_ERR_USAGE, "whom, and which role?");
    return rc == CHAT_OK ? call_with(c, "PUT", path, user_key(user), user, "role", role, NULL) : rc;
}

/* True when id is a user id: 32 lower-case hex digits. */
static int user_id_valid(const char *id) {
    size_t n = id ? strspn(id, "0123456789abcdef") : 0;
    return n == 32 && id[n] == '\0';
}

int chat_room_remove_member(chat_client *c, const char *room, const char *user_id) {
    char path[256];
    int rc = begin_logged_in(c);
    if (rc == CHAT_OK && !user_id_valid(user_id))
        rc = chat__client_fail(c, CHAT_ERR_USAGE, "a user id is 32 hex digits (see chat members)");
    if (rc == CHAT_OK) {
        char tail[80];
        snprintf(tail, sizeof tail, "member?userId=%s", user_id);
        rc = room_path(c, path, room, tail);
    }
    if (rc != CHAT_OK) return rc;
    chat_request req = {"DELETE", path, NULL, 1, 1, NULL}; /* a repeat changes nothing */
    return chat__client_call(c, &req, NULL);
}

int chat_user_lock(chat_client *c, const char *user_id, int locked) {
    char path[80];
    int rc = begin_logged_in(c);
    if (rc == CHAT_OK && !user_id_valid(user_id))
        rc = chat__client_fail(c, CHAT_ERR_USAGE, "a user id is 32 hex digits");
    if (rc != CHAT_OK) return rc;
    snprintf(path, sizeof path, "/user/%s/lock", user_id);
    chat_request req = {
        locked ? "PUT" : "DELETE", path, NULL, 1, 1, NULL}; /* the same again: 204 */
    return chat__client_call(c, &req, NULL);
}

/* Copies member i of the answer into list; a malformed one is a protocol error. */
static int member_copy(chat_client *c, const json_t *item, chat_member *m) {
    const char *id = json_string_value(json_object_get(item, "userId"));
    const char *role = json_string_value(json_object_get(item, "role"));
    const char *name = json_string_value(json_object_get(item, "name"));
    if (!id || !role)
        return chat__client_fail(c, CHAT_ERR_PROTOCOL, "a member without userId or role");
    m->user_id = strdup(id);
    m->role = strdup(role);
    m->name = strdup(name ? name : "");
    if (!m->user_id || !m->role || !m->name)
        return chat__client_fail(c, CHAT_ERR_NOMEM, "out of memory");
    return CHAT_OK;
}

int chat_members(chat_client *c, const char *room, chat_member_list *out) {
    char path[256];
    if (!out) return chat__client_fail(c, CHAT_ERR_USAGE, "no list to fill");
    *out = (chat_member_list){NULL, 0};
    int rc = begin_logged_in(c);
    if (rc == CHAT_OK) rc = room_path(c, path, room, "member");
    if (rc != CHAT_OK) return rc;
    json_t *root = NULL;
    chat_request req = {"GET", path, NULL, 1, 1, NULL};
    rc = chat__client_call(c, &req, &root);
    size_t n = rc == CHAT_OK ? json_array_size(root) : 0;
    if (rc == CHAT_OK && !json_is_array(root))
        rc = chat__client_fail(c, CHAT_ERR_PROTOCOL, "the member list is not an array");
    if (rc == CHAT_OK && n && !(out->items = calloc(n, sizeof(*out->items))))
        rc = chat__client_fail(c, CHAT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == CHAT_OK && out->items && i < n; i++) {
        out->count = i + 1; /* cleaned up with the others on a failure */
        rc = member_copy(c, json_array_get(root, i), &out->items[i]);
    }
    if (rc != CHAT_OK) chat_member_list_cleanup(out);
    json_decref(root);
    return rc;
}

void chat_member_list_cleanup(chat_member_list *list) {
    if (!list) return;
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].user_id);
        free(list->items[i].role);
        free(list->items[i].name);
    }
    free(list->items);
    *list = (chat_member_list){NULL, 0};
}

void chat_online_cleanup(chat_online *o) {
    if (!o) return;
    for (size_t i = 0; i < o->n; i++) {
        free(o->ids ? o->ids[i] : NULL);
        free(o->names ? o->names[i] : NULL);
    }
    free(o->ids);
    free(o->names);
    free(o->next);
    memset(o, 0, sizeof *o);
}

/* Copies the answer's users into out; CHAT_ERR_PROTOCOL when it is not a page. */
static int online_from_json(json_t *root, chat_online *out) {
    json_t *users = json_object_get(root, "users"), *count = json_object_get(root, "count");
    const char *next = json_string_value(json_object_get(root, "next"));
    if (!json_is_array(users) || !json_is_integer(count)) return CHAT_ERR_PROTOCOL;
    size_t n = json_array_size(users);
    out->count = json_integer_value(count);
    out->ids = calloc(n + 1, sizeof *out->ids);
    out->names = calloc(n + 1, sizeof *out->names);
    if (!out->ids || !out->names || (next && !(out->next = strdup(next)))) return CHAT_ERR_NOMEM;
    for (size_t i = 0; i < n; i++, out->n++) {
        const char *id = json_string_value(json_object_get(json_array_get(users, i), "userId"));
        const char *name = json_string_value(json_object_get(json_array_get(users, i), "name"));
        if (!id) return CHAT_ERR_PROTOCOL;
        if (!(out->ids[i] = strdup(id)) || !(out->names[i] = strdup(name ? name : "")))
            return CHAT_ERR_NOMEM;
    }
    return CHAT_OK;
}

int chat_room_online(chat_client *c, const char *room, const char *after, int limit,
                     chat_online *out) {
    char path[256], tail[128];
    memset(out, 0, sizeof *out);
    if (chat__client_begin(c) != CHAT_OK) return CHAT_ERR_USAGE;
    if (limit < 1 || limit > 1000 || (after && strlen(after) > 64))
        return chat__client_fail(c, CHAT_ERR_USAGE, "limit is 1 to 1000, after a user id");
    snprintf(tail, sizeof tail, "presence?limit=%d%s%s", limit, after ? "&after=" : "",
             after ? after : "");
    int rc = room_path(c, path, room, tail);
    json_t *root = NULL;
    chat_request req = {"GET", path, NULL, 1, 1, NULL};
    if (rc == CHAT_OK) rc = chat__client_call(c, &req, &root);
    if (rc == CHAT_OK && (rc = online_from_json(root, out)) != CHAT_OK) {
        chat_online_cleanup(out);
        rc = chat__client_fail(c, rc, "the presence answer");
    }
    json_decref(root);
    return rc;
}
