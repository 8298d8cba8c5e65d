/*
 * routes_member: a room's members, /room/<name>/member.
 *   GET     the members and their roles (of a private room: members only)
 *   POST    {} joins a public room; {"email"} or {"userId"} adds that user
 *           (a moderator or owner invites: the user is a member at once)
 *   PUT     {"userId" or "email", "role"} makes a member owner, moderator
 *           or member (an owner does), or bans a user ("banned")
 *   DELETE  leaves the room; ?userId= removes that member, or lifts a ban
 * Who may do what is member_rules'; every change is one script on the
 * room's slot that also records it as a room event in the room's stream,
 * and the target's own list of rooms follows (docs/STORAGE.md, "Members").
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "member_rules.h"
#include "request_body.h"
#include "room_access.h"
#include "routes.h"
#include "server.h"
#include "store.h"
#include "validate.h"
#include "webhooks.h"

/* ---- GET: the list ---- */

struct list_op {
    struct request *r;
    bool sees_bans; /* a moderator or owner: banned users are listed too */
};

static void on_members(enum store_status st, const char *const *fields, size_t n, void *arg) {
    struct list_op *op = arg;
    json_t *list = st == STORE_OK ? json_array() : NULL;
    for (size_t i = 0; list && i < n; i++) {
        const char *const *member = fields + 3 * i; /* id, role, name */
        enum member_role role = member_role_parse(member[1]);
        if (role == ROLE_NONE || (role == ROLE_BANNED && !op->sees_bans)) continue;
        json_array_append_new(list, json_pack("{s:s,s:s,s:s}", "userId", member[0], "role",
                                              member_role_name(role), "name", member[2]));
    }
    if (list) http_reply_json(op->r, 200, list);
    else http_reply_error(op->r, st == STORE_OK ? API_E_INTERNAL : routes_store_error(st), NULL);
    free(op);
}

static void on_list_access(const struct room_access *a, void *arg) {
    struct list_op *op = arg;
    op->sees_bans = room_access_effective(a) >= ROLE_MODERATOR;
    if (a->error != API_E_OK) {
        http_reply_error(op->r, a->error, NULL);
        free(op);
    } else if (store_room_members(op->r->srv->store, op->r->param, on_members, op) < 0) {
        http_reply_error(op->r, API_E_UNAVAILABLE, NULL);
        free(op);
    }
}

void route_member_list(struct request *r) {
    if (!routes_room_or_400(r)) return;
    struct list_op *op = calloc(1, sizeof(*op));
    char hash[TOKEN_HASH_LEN + 1];
    bool has_session = room_access_session_hash(r, hash);
    if (op) op->r = r;
    if (!op || room_access_check(r->srv, r->param, ROOM_ACCESS_READ, has_session ? hash : NULL,
                                 NULL, on_list_access, op) < 0) {
        free(op);
        http_reply_error(r, op ? API_E_UNAVAILABLE : API_E_INTERNAL, NULL);
    }
}

/* ---- POST, PUT, DELETE: a change ---- */

struct change_op {
    struct request *r;
    char session[TOKEN_HASH_LEN + 1];
    enum member_action action;
    enum member_role wanted;          /* MEMBER_SET_ROLE's role */
    struct member_body target_given;  /* who the request names (nobody: the caller) */
    struct session_user actor;
    char target_id[CHAT_USER_ID_LEN + 1];
    char target_name[CHAT_NAME_MAX_BYTES + 1];
    struct store_access access;       /* the standings the change is decided on */
    struct member_verdict verdict;
    bool unindexed;                   /* the target's list entry was dropped first */
    char event_id[CHAT_STREAM_ID_MAX + 1]; /* the room event of the change, "" for none */
};

static void change_done(struct change_op *op, api_error e) {
    if (e != API_E_OK) http_reply_error(op->r, e, NULL);
    free(op);
}

static enum member_role role_after(const struct change_op *op) {
    return op->verdict.noop ? op->access.target : op->verdict.role;
}

static void reply_change(struct change_op *op) {
    const char *role = member_role_name(role_after(op));
    json_t *body = json_pack("{s:s,s:s,s:s}", "room", op->r->param, "userId", op->target_id,
                             "role", role);
    if (body && op->event_id[0]) json_object_set_new(body, "eventId", json_string(op->event_id));
    struct routes_member_report x = {op->r->param, op->target_id, op->target_name, role,
                                     op->event_id, op->verdict.event, op->actor.id};
    routes_reply_member_change(op->r, body, &x); /* once its event is queued */
    change_done(op, API_E_OK);
}

static void on_index_restored(enum store_status st, void *arg) {
    (void)st, (void)arg; /* best effort: a member missing from its list still reads */
}

static void on_target_indexed(enum store_status st, void *arg) {
    struct change_op *op = arg;
    if (st == STORE_OK) reply_change(op);
    else change_done(op, routes_store_error(st));
}

/* Writes the target's list entry; with cb, op goes on there, else the
 * write is best effort and op is not waited for. */
static void index_target(struct change_op *op, enum member_role role, store_status_fn *cb) {
    if (store_user_membership_set(op->r->srv->store, op->target_id, op->r->param,
                                  op->access.kind, role, cb ? cb : on_index_restored,
                                  cb ? op : NULL) < 0 &&
        cb)
        change_done(op, API_E_UNAVAILABLE);
}

static void on_changed(enum store_status st, enum store_change outcome, const char *event_id,
                       void *arg) {
    struct change_op *op = arg;
    bool applied = st == STORE_OK &&
                   (outcome == STORE_CHANGE_DONE || outcome == STORE_CHANGE_ALREADY);
    if (!applied && op->unindexed && op->access.target >= ROLE_MEMBER)
        index_target(op, op->access.target, NULL); /* it stays a member: listed again */
    if (st != STORE_OK) change_done(op, routes_store_error(st));
    else if (outcome == STORE_CHANGE_CONFLICT) change_done(op, API_E_MEMBERSHIP_CHANGED);
    else if (outcome == STORE_CHANGE_LAST_OWNER) change_done(op, API_E_LAST_OWNER);
    else {
        if (event_id) snprintf(op->event_id, sizeof(op->event_id), "%s", event_id);
        if (op->verdict.role >= ROLE_MEMBER) /* the list entry follows the room */
            index_target(op, op->verdict.role, on_target_indexed);
        else
            reply_change(op);
    }
}

static void apply_change(struct change_op *op) {
    struct store_member_change c = {
        .room = op->r->param, .kind = op->access.kind,
        .actor_id = op->actor.id, .actor_name = op->actor.name, .actor = op->access.actor,
        .target_id = op->target_id, .target_name = op->target_name,
        .target = op->access.target, .role = op->verdict.role, .event = op->verdict.event,
        .needs_other_owner = op->verdict.needs_other_owner,
        .timestamp = http_received_ms(op->r)};
    if (store_member_change(op->r->srv->store, &c, on_changed, op) < 0)
        change_done(op, API_E_UNAVAILABLE);
}

/* A change that takes the target out drops its list entry first: a
 * failure between the two steps leaves a member unlisted, never a listed
 * non-member (docs/STORAGE.md). */
static void on_unindexed(enum store_status st, void *arg) {
    struct change_op *op = arg;
    if (st != STORE_OK) {
        change_done(op, routes_store_error(st));
        return;
    }
    op->unindexed = true;
    apply_change(op);
}

static void on_access(enum store_status st, const struct store_access *a, void *arg) {
    struct change_op *op = arg;
    if (st != STORE_OK) {
        change_done(op, routes_room_error(st));
        return;
    }
    op->access = *a;
    /* a site administrator acts on others as an owner; its own membership is its own */
    bool self = op->action == MEMBER_JOIN || op->action == MEMBER_LEAVE;
    enum member_role actor =
        !self && member_rules_is_admin(op->r->srv->cfg.admins, op->actor.email) ? ROLE_OWNER
                                                                                : a->actor;
    op->verdict = member_rules_decide(a->kind, op->action, actor, a->target, op->wanted);
    if (op->verdict.error != API_E_OK) change_done(op, op->verdict.error);
    else if (op->verdict.noop && a->target >= ROLE_MEMBER)
        index_target(op, a->target, on_target_indexed); /* repairs a step left undone */
    else if (op->verdict.noop) reply_change(op);
    else if (op->verdict.role >= ROLE_MEMBER) apply_change(op);
    else if (store_user_membership_set(op->r->srv->store, op->target_id, op->r->param, a->kind,
                                       ROLE_NONE, on_unindexed, op) < 0)
        change_done(op, API_E_UNAVAILABLE);
}

static void check_access(struct change_op *op) {
    if (strcmp(op->target_id, op->actor.id) == 0 && op->action != MEMBER_JOIN &&
        op->action != MEMBER_LEAVE && op->action != MEMBER_SET_ROLE) {
        change_done(op, API_E_SELF_ACTION);
        return;
    }
    if (store_room_access(op->r->srv->store, op->r->param, op->actor.id, op->target_id,
                          on_access, op) < 0)
        change_done(op, API_E_UNAVAILABLE);
}

static void on_target(enum store_status st, const struct store_user *u, void *arg) {
    struct change_op *op = arg;
    if (st != STORE_OK) {
        change_done(op, st == STORE_NOT_FOUND ? API_E_UNKNOWN_USER : routes_store_error(st));
        return;
    }
    if (op->target_given.user_id[0] && strcmp(u->id, op->target_given.user_id) != 0) {
        change_done(op, API_E_UNKNOWN_USER); /* deleted; its address is another user's now */
        return;
    }
    memcpy(op->target_id, u->id, sizeof(op->target_id));
    memcpy(op->target_name, u->name, sizeof(op->target_name));
    check_access(op);
}

static void on_target_email(enum store_status st, const char *email, void *arg) {
    struct change_op *op = arg;
    if (st != STORE_OK)
        change_done(op, st == STORE_NOT_FOUND ? API_E_UNKNOWN_USER : routes_store_error(st));
    else if (store_user_get(op->r->srv->store, email, on_target, op) < 0)
        change_done(op, API_E_UNAVAILABLE);
}

/* The target: the caller, or a user found by e-mail or by id. */
static void find_target(struct change_op *op) {
    struct store *s = op->r->srv->store;
    int rc = 0;
    if (op->target_given.email[0]) rc = store_user_get(s, op->target_given.email, on_target, op);
    else if (op->target_given.user_id[0])
        rc = store_user_email_of(s, op->target_given.user_id, on_target_email, op);
    else {
        memcpy(op->target_id, op->actor.id, sizeof(op->target_id));
        memcpy(op->target_name, op->actor.name, sizeof(op->target_name));
        check_access(op);
    }
    if (rc < 0) change_done(op, API_E_UNAVAILABLE);
}

static void on_invite_allowed(enum rate_verdict verdict, int retry_after_s, void *arg) {
    struct change_op *op = arg;
    if (verdict == RATE_ALLOWED) {
        find_target(op);
        return;
    }
    routes_reply_rate_refused(op->r, verdict, retry_after_s);
    free(op);
}

/* An invitation counts against --limit-invites-user. */
static void on_session(enum store_status st, const struct session_user *u, void *arg) {
    struct change_op *op = arg;
    if (st != STORE_OK) {
        change_done(op, st == STORE_NOT_FOUND ? API_E_UNAUTHORIZED : API_E_UNAVAILABLE);
        return;
    }
    op->actor = *u;
    struct rate_check check = {RATE_INVITES_USER, op->actor.id};
    if (op->action != MEMBER_INVITE) find_target(op);
    else if (ratelimit_check(&op->r->srv->limits, &check, 1, on_invite_allowed, op) < 0)
        change_done(op, API_E_INTERNAL);
}

/* Starts a change for r: a valid room, a session, the body or query read
 * into a new op (NULL when r is answered already). */
static struct change_op *change_new(struct request *r) {
    struct change_op *op = calloc(1, sizeof(*op));
    if (!op) http_reply_error(r, API_E_INTERNAL, NULL);
    else if (!routes_room_or_400(r) || !routes_session_hash_or_401(r, op->session)) {
        free(op);
        op = NULL;
    } else {
        op->r = r;
    }
    return op;
}

static void change_start(struct change_op *op) {
    if (store_session_get(op->r->srv->store, op->session, op->r->srv->cfg.session_ttl,
                          on_session, op) < 0)
        change_done(op, API_E_UNAVAILABLE);
}

/* Reads the body into op->target_given; false when r was answered 400. */
static bool read_body(struct change_op *op, bool with_role) {
    json_t *body = NULL;
    api_error e = http_body_json(op->r, &body);
    if (e == API_E_OK) e = request_body_member(body, with_role, &op->target_given);
    json_decref(body);
    if (e == API_E_OK) return true;
    change_done(op, e);
    return false;
}

void route_member_add(struct request *r) {
    struct change_op *op = change_new(r);
    if (!op || !read_body(op, false)) return;
    bool named = op->target_given.email[0] || op->target_given.user_id[0];
    op->action = named ? MEMBER_INVITE : MEMBER_JOIN;
    change_start(op);
}

void route_member_set(struct request *r) {
    struct change_op *op = change_new(r);
    if (!op || !read_body(op, true)) return;
    op->action = op->target_given.role == ROLE_BANNED ? MEMBER_BAN : MEMBER_SET_ROLE;
    op->wanted = op->target_given.role;
    change_start(op);
}

void route_member_remove(struct request *r) {
    struct change_op *op = change_new(r);
    if (!op) return;
    const char *id = http_query(r, "userId");
    if (id && !validate_user_id(id, strlen(id))) {
        change_done(op, API_E_INVALID_USER_ID);
        return;
    }
    if (id) memcpy(op->target_given.user_id, id, CHAT_USER_ID_LEN + 1);
    op->action = id ? MEMBER_REMOVE : MEMBER_LEAVE;
    change_start(op);
}
