/*
 * routes_direct: direct conversations, POST /dm/ {"email"} or {"userId"}.
 * The conversation of two users is a room of the kind "direct" whose name
 * comes from the pair (member_rules_direct_name), so the same two users
 * always get the same room, whoever starts it; both are its members (and
 * become so again when either starts it again), it is listed for both, and
 * it is read and written like any room, by its two members only.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "member_rules.h"
#include "ratelimit.h"
#include "request_body.h"
#include "routes.h"
#include "server.h"
#include "store.h"

struct direct_op {
    struct request *r;
    char session[TOKEN_HASH_LEN + 1];
    struct member_body other_given;
    struct session_user self;
    char other_id[CHAT_USER_ID_LEN + 1];
    char other_name[CHAT_NAME_MAX_BYTES + 1];
    char room[MEMBER_DIRECT_NAME_LEN + 1];
    int status;   /* 201 created, 200 found */
    int indexing; /* list entries still being written */
    api_error index_error;
};

static void direct_done(struct direct_op *op, api_error e) {
    if (e != API_E_OK) http_reply_error(op->r, e, NULL);
    free(op);
}

/* Both lists written (or one failed): the answer. */
static void on_indexed(enum store_status st, void *arg) {
    struct direct_op *op = arg;
    if (st != STORE_OK && op->index_error == API_E_OK) op->index_error = routes_store_error(st);
    if (--op->indexing > 0) return;
    if (op->index_error != API_E_OK) {
        direct_done(op, op->index_error);
        return;
    }
    struct routes_room_report x = {op->room, "direct", op->self.id, {op->self.id, op->other_id},
                                   2};
    routes_reply_room_created(op->r, op->status,
                              json_pack("{s:s,s:s,s:s}", "name", op->room, "kind", "direct",
                                        "with", op->other_id),
                              &x);
    direct_done(op, API_E_OK);
}

/* The room in both users' lists, concurrently (two slots). The callbacks
 * run later, on the loop: the count of those to wait for is set after
 * both were sent. */
static void index_both(struct direct_op *op) {
    const char *users[] = {op->self.id, op->other_id};
    int sent = 0;
    for (int i = 0; i < 2; i++)
        if (store_user_membership_set(op->r->srv->store, users[i], op->room, ROOM_DIRECT,
                                      ROLE_MEMBER, on_indexed, op) == 0)
            sent++;
    if (sent < 2 && op->index_error == API_E_OK) op->index_error = API_E_UNAVAILABLE;
    op->indexing = sent;
    if (sent == 0) direct_done(op, op->index_error);
}

static void on_created(enum store_status st, void *arg) {
    struct direct_op *op = arg;
    if (st != STORE_OK && st != STORE_EXISTS) {
        direct_done(op, routes_store_error(st));
        return;
    }
    op->status = st == STORE_OK ? 201 : 200;
    index_both(op);
}

static void create(struct direct_op *op) {
    if (strcmp(op->other_id, op->self.id) == 0) {
        direct_done(op, API_E_SELF_ACTION);
        return;
    }
    member_rules_direct_name(op->self.id, op->other_id, op->room);
    const char *const ids[] = {op->self.id, op->other_id};
    const char *const names[] = {op->self.name, op->other_name};
    if (store_direct_create(op->r->srv->store, op->room, ids, names, on_created, op) < 0)
        direct_done(op, API_E_UNAVAILABLE);
}

static void on_other(enum store_status st, const struct store_user *u, void *arg) {
    struct direct_op *op = arg;
    if (st != STORE_OK) {
        direct_done(op, st == STORE_NOT_FOUND ? API_E_UNKNOWN_USER : routes_store_error(st));
        return;
    }
    if (op->other_given.user_id[0] && strcmp(u->id, op->other_given.user_id) != 0) {
        direct_done(op, API_E_UNKNOWN_USER); /* deleted; its address is another user's now */
        return;
    }
    memcpy(op->other_id, u->id, sizeof(op->other_id));
    memcpy(op->other_name, u->name, sizeof(op->other_name));
    create(op);
}

static void on_other_email(enum store_status st, const char *email, void *arg) {
    struct direct_op *op = arg;
    if (st != STORE_OK)
        direct_done(op, st == STORE_NOT_FOUND ? API_E_UNKNOWN_USER : routes_store_error(st));
    else if (store_user_get(op->r->srv->store, email, on_other, op) < 0)
        direct_done(op, API_E_UNAVAILABLE);
}

static void on_allowed(enum rate_verdict verdict, int retry_after_s, void *arg) {
    struct direct_op *op = arg;
    if (verdict != RATE_ALLOWED) {
        routes_reply_rate_refused(op->r, verdict, retry_after_s);
        free(op);
        return;
    }
    struct store *s = op->r->srv->store;
    int rc = op->other_given.email[0]
                 ? store_user_get(s, op->other_given.email, on_other, op)
                 : store_user_email_of(s, op->other_given.user_id, on_other_email, op);
    if (rc < 0) direct_done(op, API_E_UNAVAILABLE);
}

/* Each conversation opened counts against --limit-dm-user. */
static void on_session(enum store_status st, const struct session_user *u, void *arg) {
    struct direct_op *op = arg;
    if (st != STORE_OK) {
        direct_done(op, st == STORE_NOT_FOUND ? API_E_UNAUTHORIZED : API_E_UNAVAILABLE);
        return;
    }
    op->self = *u;
    struct rate_check check = {RATE_DM_USER, op->self.id};
    if (ratelimit_check(&op->r->srv->limits, &check, 1, on_allowed, op) < 0)
        direct_done(op, API_E_INTERNAL);
}

void route_direct_open(struct request *r) {
    struct direct_op *op = calloc(1, sizeof(*op));
    if (!op) {
        http_reply_error(r, API_E_INTERNAL, NULL);
        return;
    }
    op->r = r;
    if (!routes_session_hash_or_401(r, op->session)) {
        free(op);
        return;
    }
    json_t *body = NULL;
    api_error e = http_body_json(r, &body);
    if (e == API_E_OK) e = request_body_member(body, false, &op->other_given);
    json_decref(body);
    if (e == API_E_OK && !op->other_given.email[0] && !op->other_given.user_id[0])
        e = API_E_INVALID_USER_ID; /* whom to talk to */
    if (e != API_E_OK) {
        direct_done(op, e);
        return;
    }
    if (store_session_get(r->srv->store, op->session, r->srv->cfg.session_ttl, on_session, op) <
        0)
        direct_done(op, API_E_UNAVAILABLE);
}
