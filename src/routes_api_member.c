/*
 * routes_api_member: a room's members through the server API,
 * /api/v1/room/<name>/member.
 *   GET     every member with role and name, banned users included
 *   POST    {"userId"} or {"email"}: adds the user (as an owner invites)
 *   PUT     {"userId" or "email","role"}: a role, or "banned"
 *   DELETE  ?userId=: removes a member, or lifts a ban
 * The application acts as the room's owner would (member_rules decides,
 * with the same answers as the user routes: 409 last_owner, 409
 * user_banned, 404 not_member, ...); its room events name "system" as the
 * actor. A change already in place answers 200 and records nothing, so a
 * retry is safe.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "member_rules.h"
#include "request_body.h"
#include "routes.h"
#include "server.h"
#include "store.h"
#include "validate.h"

#define API_ACTOR_ID "system"
#define API_ACTOR_NAME "System"

/* ---- GET: the list ---- */

static void on_members(enum store_status st, const char *const *fields, size_t n, void *arg) {
    struct request *r = arg;
    json_t *list = st == STORE_OK ? json_array() : NULL;
    for (size_t i = 0; list && i < n; i++) {
        const char *const *member = fields + 3 * i; /* id, role, name */
        enum member_role role = member_role_parse(member[1]);
        if (role == ROLE_NONE) continue;
        json_array_append_new(list, json_pack("{s:s,s:s,s:s}", "userId", member[0], "role",
                                              member_role_name(role), "name", member[2]));
    }
    if (list) http_reply_json(r, 200, list);
    else http_reply_error(r, st == STORE_OK ? API_E_INTERNAL : routes_store_error(st), NULL);
}

static void on_list_room(enum store_status st, const struct store_access *a, void *arg) {
    (void)a;
    struct request *r = arg;
    if (st != STORE_OK) http_reply_error(r, routes_room_error(st), NULL);
    else if (store_room_members(r->srv->store, r->param, on_members, r) < 0)
        http_reply_error(r, API_E_UNAVAILABLE, NULL);
}

static void list_members(struct request *r, const char *key_id) {
    (void)key_id;
    if (!routes_room_or_400(r)) return;
    if (store_room_access(r->srv->store, r->param, NULL, NULL, on_list_room, r) < 0)
        http_reply_error(r, API_E_UNAVAILABLE, NULL);
}

void route_api_member_list(struct request *r) { routes_api_call(r, list_members); }

/* ---- POST, PUT, DELETE: a change ---- */

struct change_op {
    struct request *r;
    enum member_action action;
    struct member_body given;              /* the target named, and the role for PUT */
    char target_id[CHAT_USER_ID_LEN + 1];
    char target_name[CHAT_NAME_MAX_BYTES + 1];
    struct store_access access;            /* the standings the change is decided on */
    struct member_verdict verdict;
    char event_id[CHAT_STREAM_ID_MAX + 1]; /* the room event of the change, "" for none */
};

static void change_done(struct change_op *op, api_error e) {
    if (e != API_E_OK) http_reply_error(op->r, e, NULL);
    free(op);
}

static void reply_change(struct change_op *op) {
    const char *role =
        member_role_name(op->verdict.noop ? op->access.target : op->verdict.role);
    json_t *body = json_pack("{s:s,s:s,s:s}", "room", op->r->param, "userId", op->target_id,
                             "role", role);
    if (body && op->event_id[0]) json_object_set_new(body, "eventId", json_string(op->event_id));
    struct routes_member_report x = {op->r->param, op->target_id, op->target_name, role,
                                     op->event_id, op->verdict.event, API_ACTOR_ID};
    routes_reply_member_change(op->r, body, &x); /* once its event is queued */
    change_done(op, API_E_OK);
}

static void on_indexed(enum store_status st, void *arg) {
    struct change_op *op = arg;
    if (st == STORE_OK) reply_change(op);
    else change_done(op, routes_store_error(st));
}

/* The target's own list of rooms follows its standing. */
static void index_target(struct change_op *op, enum member_role role) {
    if (store_user_membership_set(op->r->srv->store, op->target_id, op->r->param,
                                  op->access.kind, role, on_indexed, op) < 0)
        change_done(op, API_E_UNAVAILABLE);
}

static void on_changed(enum store_status st, enum store_change outcome, const char *event_id,
                       void *arg) {
    struct change_op *op = arg;
    if (st != STORE_OK) change_done(op, routes_store_error(st));
    else if (outcome == STORE_CHANGE_CONFLICT) change_done(op, API_E_MEMBERSHIP_CHANGED);
    else if (outcome == STORE_CHANGE_LAST_OWNER) change_done(op, API_E_LAST_OWNER);
    else {
        if (event_id) snprintf(op->event_id, sizeof(op->event_id), "%s", event_id);
        if (op->verdict.role >= ROLE_MEMBER) index_target(op, op->verdict.role);
        else reply_change(op);
    }
}

static void apply_change(struct change_op *op) {
    struct store_member_change c = {
        .room = op->r->param, .kind = op->access.kind,
        .actor_id = API_ACTOR_ID, .actor_name = API_ACTOR_NAME, .actor = op->access.actor,
        .target_id = op->target_id, .target_name = op->target_name,
        .target = op->access.target, .role = op->verdict.role, .event = op->verdict.event,
        .needs_other_owner = op->verdict.needs_other_owner,
        .timestamp = http_received_ms(op->r)};
    if (store_member_change(op->r->srv->store, &c, on_changed, op) < 0)
        change_done(op, API_E_UNAVAILABLE);
}

/* A change that takes the target out drops its list entry first, as
 * routes_member.c does: a failure between leaves a member unlisted. */
static void on_unindexed(enum store_status st, void *arg) {
    struct change_op *op = arg;
    if (st != STORE_OK) change_done(op, routes_store_error(st));
    else apply_change(op);
}

static void on_access(enum store_status st, const struct store_access *a, void *arg) {
    struct change_op *op = arg;
    if (st != STORE_OK) {
        change_done(op, routes_room_error(st));
        return;
    }
    op->access = *a;
    op->verdict = member_rules_decide(a->kind, op->action, ROLE_OWNER, a->target, op->given.role);
    if (op->verdict.error != API_E_OK) change_done(op, op->verdict.error);
    else if (op->verdict.noop && a->target >= ROLE_MEMBER) index_target(op, a->target);
    else if (op->verdict.noop) reply_change(op);
    else if (op->verdict.role >= ROLE_MEMBER) apply_change(op);
    else if (store_user_membership_set(op->r->srv->store, op->target_id, op->r->param, a->kind,
                                       ROLE_NONE, on_unindexed, op) < 0)
        change_done(op, API_E_UNAVAILABLE);
}

static void on_target(enum store_status st, const struct store_user *u, void *arg) {
    struct change_op *op = arg;
    if (st != STORE_OK) {
        change_done(op, st == STORE_NOT_FOUND ? API_E_UNKNOWN_USER : routes_store_error(st));
        return;
    }
    memcpy(op->target_id, u->id, sizeof(op->target_id));
    memcpy(op->target_name, u->name, sizeof(op->target_name));
    if (store_room_access(op->r->srv->store, op->r->param, API_ACTOR_ID, op->target_id,
                          on_access, op) < 0)
        change_done(op, API_E_UNAVAILABLE);
}

static void change_start(struct change_op *op, api_error e) {
    if (e == API_E_OK && !op->given.email[0] && !op->given.user_id[0])
        e = API_E_INVALID_USER_ID; /* the application names a user, always */
    if (e != API_E_OK) {
        change_done(op, e);
        return;
    }
    struct store *s = op->r->srv->store;
    int rc = op->given.email[0] ? store_user_get(s, op->given.email, on_target, op)
                                : store_user_get_by_id(s, op->given.user_id, on_target, op);
    if (rc < 0) change_done(op, API_E_UNAVAILABLE);
}

static struct change_op *change_new(struct request *r, enum member_action action) {
    if (!routes_room_or_400(r)) return NULL;
    struct change_op *op = calloc(1, sizeof(*op));
    if (!op) http_reply_error(r, API_E_INTERNAL, NULL);
    else op->r = r, op->action = action;
    return op;
}

static api_error read_body(struct change_op *op, bool with_role) {
    json_t *body = NULL;
    api_error e = http_body_json(op->r, &body);
    if (e == API_E_OK) e = request_body_member(body, with_role, &op->given);
    json_decref(body);
    return e;
}

static void add(struct request *r, const char *key_id) {
    (void)key_id;
    struct change_op *op = change_new(r, MEMBER_INVITE);
    if (op) change_start(op, read_body(op, false));
}

static void set(struct request *r, const char *key_id) {
    (void)key_id;
    struct change_op *op = change_new(r, MEMBER_SET_ROLE);
    if (!op) return;
    api_error e = read_body(op, true);
    if (op->given.role == ROLE_BANNED) op->action = MEMBER_BAN;
    change_start(op, e);
}

static void remove_member(struct request *r, const char *key_id) {
    (void)key_id;
    struct change_op *op = change_new(r, MEMBER_REMOVE);
    if (!op) return;
    const char *id = http_query(r, "userId");
    api_error e = API_E_OK;
    if (!id || !validate_user_id(id, strlen(id))) e = API_E_INVALID_USER_ID;
    else memcpy(op->given.user_id, id, CHAT_USER_ID_LEN + 1);
    change_start(op, e);
}

void route_api_member_add(struct request *r) { routes_api_call(r, add); }
void route_api_member_set(struct request *r) { routes_api_call(r, set); }
void route_api_member_remove(struct request *r) { routes_api_call(r, remove_member); }
