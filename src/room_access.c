/* room_access: the access rule of every path about a room (room_access.h). */
#include "room_access.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "jwt_verify.h"
#include "server.h"
#include "store.h"
#include "routes.h"
#include "token.h"

struct access_op {
    struct server *srv;
    enum room_access_need need;
    char room[CHAT_ROOM_MAX + 1];
    char target_id[CHAT_USER_ID_LEN + 1];
    room_access_fn *cb;
    void *arg;
    struct room_access a;
};

static void finish(struct access_op *op) {
    op->cb(&op->a, op->arg);
    free(op);
}

enum member_role room_access_effective(const struct room_access *a) {
    return a->admin ? ROLE_OWNER : a->role;
}

/* An application token's rooms claim (jwt_verify.h) names the rooms its
 * session may use: outside them, reads of a public room stay open (anyone
 * may read it), everything else is 403 room_not_allowed. */
static bool claim_allows(const struct room_access *a, const char *room, bool read) {
    return !a->has_user || (read && a->kind == ROOM_PUBLIC) || jwt_rooms_allow(&a->user, room);
}

static api_error verdict(const struct access_op *op) {
    const struct room_access *a = &op->a;
    enum member_role role = room_access_effective(a);
    api_error e;
    switch (op->need) {
    case ROOM_ACCESS_READ:
        e = member_rules_can_read(a->kind, role) ? API_E_OK : API_E_NOT_FOUND;
        break;
    case ROOM_ACCESS_SEND: e = member_rules_send_error(a->kind, role); break;
    default: e = API_E_OK;
    }
    if (e == API_E_OK && !claim_allows(a, op->room, op->need == ROOM_ACCESS_READ))
        e = API_E_ROOM_NOT_ALLOWED;
    return e;
}

static void on_access(enum store_status st, const struct store_access *sa, void *arg) {
    struct access_op *op = arg;
    if (st == STORE_NOT_FOUND) op->a.error = API_E_NOT_FOUND;
    else if (st != STORE_OK) op->a.error = routes_store_error(st);
    else {
        op->a.kind = sa->kind;
        op->a.role = sa->actor;
        op->a.target = sa->target;
        op->a.error = verdict(op);
    }
    finish(op);
}

static void read_access(struct access_op *op) {
    if (store_room_access(op->srv->store, op->room, op->a.has_user ? op->a.user.id : NULL,
                          op->target_id[0] ? op->target_id : NULL, on_access, op) < 0) {
        op->a.error = API_E_UNAVAILABLE;
        finish(op);
    }
}

static void on_session(enum store_status st, const struct session_user *u, void *arg) {
    struct access_op *op = arg;
    if (st == STORE_OK) {
        op->a.has_user = true;
        op->a.user = *u;
        op->a.admin = member_rules_is_admin(op->srv->cfg.admins, u->email);
    } else if (st != STORE_NOT_FOUND || op->need != ROOM_ACCESS_READ) {
        /* a reader with a stale session reads as anyone does */
        op->a.error = st == STORE_NOT_FOUND ? API_E_UNAUTHORIZED : API_E_UNAVAILABLE;
        finish(op);
        return;
    }
    read_access(op);
}

api_error room_access_send_error(const struct server *srv, enum store_status st,
                                 const struct store_access *a, const struct session_user *u) {
    if (st != STORE_OK) return routes_room_error(st);
    bool admin = member_rules_is_admin(srv->cfg.admins, u->email);
    return member_rules_send_error(a->kind, admin ? ROLE_OWNER : a->actor);
}

bool room_access_session_hash(struct request *r, char hash[TOKEN_HASH_LEN + 1]) {
    char token[TOKEN_LEN + 1];
    if (!http_session_token(r, token)) return false;
    token_hash(token, hash);
    sodium_memzero(token, sizeof(token));
    return true;
}

int room_access_check(struct server *srv, const char *room, enum room_access_need need,
                      const char *session_hash, const char *target_id, room_access_fn *cb,
                      void *arg) {
    if (!session_hash && need != ROOM_ACCESS_READ) return -1;
    struct access_op *op = calloc(1, sizeof(*op));
    if (!op) return -1;
    *op = (struct access_op){.srv = srv, .need = need, .cb = cb, .arg = arg};
    snprintf(op->room, sizeof(op->room), "%s", room);
    if (target_id) snprintf(op->target_id, sizeof(op->target_id), "%s", target_id);
    int rc = session_hash ? store_session_get(srv->store, session_hash, srv->cfg.session_ttl,
                                              on_session, op)
                          : store_room_access(srv->store, op->room, NULL, NULL, on_access, op);
    if (rc < 0) free(op);
    return rc;
}

/* ---- several rooms at once (the multi-room stream) ---- */

struct many_op {
    struct request *r;
    int n, pending;
    const char *const *rooms; /* the caller's, alive until cb */
    room_access_many_fn *cb;
    void *arg;
    struct room_access_many result;
};

struct many_one {
    struct many_op *op;
    int i;
};

static void many_finish(struct many_op *op) {
    op->cb(&op->result, op->arg);
    free(op);
}

/* The first refusal wins; 404 hides a private room like a missing one. */
static void on_one(enum store_status st, const struct store_access *sa, void *arg) {
    struct many_one *one = arg;
    struct many_op *op = one->op;
    struct room_access_many *res = &op->result;
    api_error e = st == STORE_NOT_FOUND ? API_E_NOT_FOUND
                  : st != STORE_OK      ? routes_store_error(st)
                  : member_rules_can_read(sa->kind, res->admin ? ROLE_OWNER : sa->actor)
                      ? API_E_OK
                      : API_E_NOT_FOUND;
    if (e == API_E_OK && res->has_user && sa->kind != ROOM_PUBLIC &&
        !jwt_rooms_allow(&res->user, op->rooms[one->i]))
        e = API_E_ROOM_NOT_ALLOWED; /* outside a token's rooms claim, as room_access_check */
    if (st == STORE_OK) res->kinds[one->i] = sa->kind;
    if (res->error == API_E_OK) res->error = e;
    free(one);
    if (--op->pending == 0) many_finish(op);
}

static void check_each(struct many_op *op) {
    op->pending = op->n + 1; /* held until every command is sent */
    for (int i = 0; i < op->n; i++) {
        struct many_one *one = malloc(sizeof(*one));
        if (one) *one = (struct many_one){op, i};
        const char *user = op->result.has_user ? op->result.user.id : NULL;
        if (!one || store_room_access(op->r->srv->store, op->rooms[i], user, NULL, on_one,
                                      one) < 0) {
            free(one);
            op->result.error = API_E_UNAVAILABLE;
            op->pending--;
        }
    }
    if (--op->pending == 0) many_finish(op);
}

static void on_many_session(enum store_status st, const struct session_user *u, void *arg) {
    struct many_op *op = arg;
    if (st == STORE_OK) {
        op->result.has_user = true;
        op->result.user = *u;
        op->result.admin = member_rules_is_admin(op->r->srv->cfg.admins, u->email);
    } else if (st != STORE_NOT_FOUND) {
        op->result.error = API_E_UNAVAILABLE;
        many_finish(op);
        return;
    }
    check_each(op);
}

int room_access_check_many(struct request *r, const char *const *rooms, int n,
                           const char *session_hash, room_access_many_fn *cb, void *arg) {
    if (n < 1 || n > STREAM_ROOMS_MAX) return -1;
    struct many_op *op = calloc(1, sizeof(*op));
    if (!op) return -1;
    *op = (struct many_op){.r = r, .n = n, .rooms = rooms, .cb = cb, .arg = arg};
    if (session_hash) {
        if (store_session_get(r->srv->store, session_hash, r->srv->cfg.session_ttl,
                              on_many_session, op) < 0) {
            free(op);
            return -1;
        }
        return 0;
    }
    /* every command is sent now, and every answer comes later */
    check_each(op);
    return 0;
}
