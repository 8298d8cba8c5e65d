/*
 * routes_room: the room list. GET /room/ lists the public rooms a page at a
 * time (lobby always first on the first page, the others by name; ?after=
 * the last name of the previous page, ?limit=), and with a session the
 * caller's private rooms after the first page's, each with the caller's
 * role; POST /room/ {"name","kind"?} creates one, public or private, owned
 * by its creator (a session is needed; limited per user and per client
 * address, and capped per user). Each room's messages live at /room/<name>/message/, in
 * a stream of its own hash slot, so rooms spread over the cluster's
 * masters; only rooms created here take messages and streams.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_addr.h"
#include "http.h"
#include "json.h"
#include "jwt_verify.h"
#include "ratelimit.h"
#include "request_body.h"
#include "request_query.h"
#include "room_access.h"
#include "routes.h"
#include "server.h"
#include "store.h"
#include "token.h"
#include "validate.h"

/* GET /room/: the public rooms a page at a time and, on the first page,
 * the caller's private rooms; each entry with the caller's role in it. */
struct list_op {
    struct request *r;
    struct rooms_query q;
    json_t *mine; /* the caller's rooms: name -> "<kind>:<role>", or NULL */
    json_t *list; /* the answer, while its unread counts are read */
    char user_id[CHAT_USER_ID_LEN + 1]; /* the caller's, "" without a session */
};

static void list_done(struct list_op *op) {
    json_decref(op->mine);
    json_decref(op->list);
    free(op);
}

/* The markers and counts came (routes_unread.c): the list goes out. */
static void on_unread(api_error e, void *arg) {
    struct list_op *op = arg;
    if (e != API_E_OK) http_reply_error(op->r, e, NULL);
    else http_reply_json(op->r, 200, json_incref(op->list));
    list_done(op);
}

/* With a session, each room gets the caller's marker and unread count. */
static void reply_list(struct list_op *op, json_t *list) {
    op->list = list;
    if (!op->user_id[0] ||
        routes_unread_annotate(op->r->srv, op->user_id, list, on_unread, op) < 0) {
        http_reply_json(op->r, 200, json_incref(list));
        list_done(op);
    }
}

/* Whether a standing ("<kind>:<role>") is in a public room. */
static bool is_public(const char *standing) { return strncmp(standing, "public:", 7) == 0; }

/* An entry of the list: {"name"}, with "kind" for a private or direct
 * room and "role" when the caller has one. */
static json_t *entry_of(const char *name, const char *standing) {
    json_t *e = json_pack("{s:s}", "name", name);
    const char *colon = standing ? strchr(standing, ':') : NULL;
    if (!e || !colon) return e;
    if (!is_public(standing))
        json_object_set_new(e, "kind", json_stringn(standing, (size_t)(colon - standing)));
    json_object_set_new(e, "role", json_string(colon + 1));
    return e;
}

static const char *standing_of(const struct list_op *op, const char *room) {
    return op->mine ? json_string_value(json_object_get(op->mine, room)) : NULL;
}

/* The caller's private and direct rooms, by name, after the public ones. */
static void append_private(json_t *list, const struct list_op *op) {
    const char *names[256] = {NULL};
    size_t n = 0;
    for (void *it = json_object_iter(op->mine); it && n < sizeof(names) / sizeof(names[0]);
         it = json_object_iter_next(op->mine, it)) {
        const char *v = json_string_value(json_object_iter_value(it));
        if (v && !is_public(v)) names[n++] = json_object_iter_key(it);
    }
    qsort(names, n, sizeof(names[0]), routes_compare_names);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, entry_of(names[i], standing_of(op, names[i])));
}

static void on_list(enum store_status st, const char *const *names, size_t n, void *arg) {
    struct list_op *op = arg;
    struct request *r = op->r;
    json_t *list = st == STORE_OK ? json_array() : NULL;
    if (!list) {
        http_reply_error(r, routes_store_error(st == STORE_OK ? STORE_ERROR : st), NULL);
        list_done(op);
        return;
    }
    if (!op->q.after[0])
        json_array_append_new(list, entry_of(STORE_ROOM_LOBBY, standing_of(op, STORE_ROOM_LOBBY)));
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], STORE_ROOM_LOBBY) != 0)
            json_array_append_new(list, entry_of(names[i], standing_of(op, names[i])));
    if (!op->q.after[0] && op->mine) append_private(list, op);
    if (n == (size_t)op->q.limit) http_add_header(r, "X-Next-After", names[n - 1]);
    reply_list(op, list);
}

static void list_public(struct list_op *op) {
    if (store_room_list(op->r->srv->store, op->q.after[0] ? op->q.after : NULL, op->q.limit,
                        on_list, op) < 0) {
        http_reply_error(op->r, API_E_UNAVAILABLE, NULL);
        list_done(op);
    }
}

static void on_memberships(enum store_status st, const char *const *fields, size_t n,
                           void *arg) {
    struct list_op *op = arg;
    if (st != STORE_OK) {
        http_reply_error(op->r, routes_store_error(st), NULL);
        list_done(op);
        return;
    }
    op->mine = json_object();
    for (size_t i = 0; op->mine && i < n; i++)
        json_object_set_new(op->mine, fields[2 * i], json_string(fields[2 * i + 1]));
    list_public(op);
}

/* A caller with a session gets its rooms too; a stale session lists as
 * anyone does. */
static void on_list_session(enum store_status st, const struct session_user *u, void *arg) {
    struct list_op *op = arg;
    if (st == STORE_OK) {
        snprintf(op->user_id, sizeof(op->user_id), "%s", u->id);
        if (store_user_memberships(op->r->srv->store, u->id, on_memberships, op) < 0) {
            http_reply_error(op->r, API_E_UNAVAILABLE, NULL);
            list_done(op);
        }
    } else if (st == STORE_NOT_FOUND) {
        list_public(op);
    } else {
        http_reply_error(op->r, routes_store_error(st), NULL);
        list_done(op);
    }
}

void route_room_list(struct request *r) {
    struct list_op *op = calloc(1, sizeof(*op));
    if (!op) {
        http_reply_error(r, API_E_INTERNAL, NULL);
        return;
    }
    op->r = r;
    const char *invalid = request_query_rooms(&r->query, &op->q);
    if (invalid) {
        http_reply_error(r, API_E_INVALID_QUERY, invalid);
        free(op);
        return;
    }
    char hash[TOKEN_HASH_LEN + 1];
    if (!room_access_session_hash(r, hash)) list_public(op);
    else if (store_session_get(r->srv->store, hash, r->srv->cfg.session_ttl, on_list_session,
                               op) < 0) {
        http_reply_error(r, API_E_UNAVAILABLE, NULL);
        free(op);
    }
}

/* POST /room/: the session, the limits, the user's count of rooms; then
 * the room gets its kind and owner in its own slot, a public room goes
 * into the room list, and the room into its owner's rooms (in that order:
 * docs/STORAGE.md, "Members"). */
struct create_op {
    struct request *r;
    char name[CHAT_ROOM_MAX + 1];
    enum room_kind kind;           /* asked for, then the room's */
    enum member_role role;         /* the creator's role in the room */
    int status;                    /* 201 created, 200 there already */
    char address[CLIENT_ADDR_MAX]; /* the client's, for the per-address limit */
    struct session_user user;      /* the creator */
    bool counted;                  /* the user's room count includes this room */
};

static void create_done(struct create_op *op, api_error e) {
    if (e != API_E_OK) http_reply_error(op->r, e, NULL);
    free(op);
}

static void on_uncounted(enum store_status st, long long count, void *arg) {
    (void)st, (void)count, (void)arg; /* a count left too high only lowers the cap */
}

/* Takes the room back out of the user's count (it was not created). */
static void uncount(struct create_op *op) {
    if (op->counted) store_user_rooms_add(op->r->srv->store, op->user.id, -1, on_uncounted, NULL);
    op->counted = false;
}

static void reply_room(struct create_op *op) {
    json_t *body = json_pack("{s:s,s:s}", "name", op->name, "kind", room_kind_name(op->kind));
    if (body && op->role != ROLE_NONE)
        json_object_set_new(body, "role", json_string(member_role_name(op->role)));
    if (op->role == ROLE_OWNER) { /* its creation, or the creator's retry of it */
        struct routes_room_report x = {op->name, room_kind_name(op->kind), op->user.id,
                                       {op->user.id}, 1};
        routes_reply_room_created(op->r, op->status, body, &x);
    } else {
        http_reply_json(op->r, op->status, body);
    }
    create_done(op, API_E_OK);
}

static void on_indexed(enum store_status st, void *arg) {
    struct create_op *op = arg;
    if (st == STORE_OK) reply_room(op);
    else create_done(op, routes_store_error(st));
}

/* The last step: the room in its owner's (or member's) rooms. */
static void index_room(struct create_op *op) {
    if (op->role < ROLE_MEMBER) {
        reply_room(op);
        return;
    }
    if (store_user_membership_set(op->r->srv->store, op->user.id, op->name, op->kind, op->role,
                                  on_indexed, op) < 0)
        create_done(op, API_E_UNAVAILABLE);
}

static void on_listed(enum store_status st, void *arg) {
    struct create_op *op = arg;
    if (st == STORE_OK || st == STORE_EXISTS) index_room(op);
    else create_done(op, routes_store_error(st));
}

static void on_created(enum store_status st, enum room_kind kind, enum member_role role,
                       void *arg) {
    struct create_op *op = arg;
    if (st != STORE_OK) uncount(op);
    if (st != STORE_OK && st != STORE_EXISTS) {
        create_done(op, routes_store_error(st));
        return;
    }
    op->status = st == STORE_OK ? 201 : 200;
    op->kind = kind;
    op->role = role;
    if (kind != ROOM_PUBLIC && role < ROLE_MEMBER) {
        create_done(op, API_E_ROOM_TAKEN); /* says nothing of the room */
        return;
    }
    if (kind != ROOM_PUBLIC) index_room(op);
    /* a public room is listed (again: a step a failure may have left undone) */
    else if (store_room_add(op->r->srv->store, op->name, on_listed, op) < 0)
        create_done(op, API_E_UNAVAILABLE);
}

/* A name in the room list is a public room, maybe from before rooms had
 * owners: 200 as ever; a private room cannot have its name. */
static void on_list_checked(enum store_status st, void *arg) {
    struct create_op *op = arg;
    if (st == STORE_OK || (st == STORE_NOT_FOUND && routes_room_is_lobby(op->name))) {
        uncount(op);
        if (op->kind == ROOM_PRIVATE) {
            create_done(op, API_E_ROOM_TAKEN);
            return;
        }
        op->status = 200;
        reply_room(op);
    } else if (st != STORE_NOT_FOUND) {
        uncount(op);
        create_done(op, routes_store_error(st));
    } else if (store_room_create(op->r->srv->store, op->name, op->kind, op->user.id, op->user.name, on_created,
                                 op) < 0) {
        uncount(op);
        create_done(op, API_E_UNAVAILABLE);
    }
}

static void add_room(struct create_op *op) {
    const char *name = op->name;
    if (store_rooms_exist(op->r->srv->store, &name, 1, on_list_checked, op) < 0) {
        uncount(op);
        create_done(op, API_E_UNAVAILABLE);
    }
}

static void on_counted(enum store_status st, long long count, void *arg) {
    struct create_op *op = arg;
    if (st != STORE_OK) {
        create_done(op, routes_store_error(st));
        return;
    }
    op->counted = true;
    if (count > op->r->srv->cfg.max_rooms_per_user) {
        uncount(op);
        create_done(op, API_E_TOO_MANY_ROOMS);
        return;
    }
    add_room(op);
}

static void on_create_allowed(enum rate_verdict verdict, int retry_after_s, void *arg) {
    struct create_op *op = arg;
    if (verdict != RATE_ALLOWED) {
        routes_reply_rate_refused(op->r, verdict, retry_after_s);
        create_done(op, API_E_OK);
        return;
    }
    if (op->r->srv->cfg.max_rooms_per_user == 0) {
        add_room(op);
        return;
    }
    if (store_user_rooms_add(op->r->srv->store, op->user.id, 1, on_counted, op) < 0)
        create_done(op, API_E_UNAVAILABLE);
}

static void on_session(enum store_status st, const struct session_user *u, void *arg) {
    struct create_op *op = arg;
    if (st != STORE_OK) {
        create_done(op, st == STORE_NOT_FOUND ? API_E_UNAUTHORIZED : API_E_UNAVAILABLE);
        return;
    }
    if (!jwt_rooms_allow(u, op->name)) { /* a token's rooms claim names the rooms it may use */
        create_done(op, API_E_ROOM_NOT_ALLOWED);
        return;
    }
    op->user = *u;
    struct rate_check checks[] = {{RATE_ROOMS_USER, op->user.id},
                                  {RATE_ROOMS_ADDRESS, op->address}};
    if (ratelimit_check(&op->r->srv->limits, checks, 2, on_create_allowed, op) < 0)
        create_done(op, API_E_INTERNAL);
}

void route_room_create(struct request *r) {
    char hash[TOKEN_HASH_LEN + 1];
    if (!routes_session_hash_or_401(r, hash)) return;
    json_t *body = NULL; /* set only when the body parses */
    char name[CHAT_ROOM_MAX + 1];
    enum room_kind kind = ROOM_PUBLIC;
    api_error e = http_body_json(r, &body);
    if (e == API_E_OK) e = request_body_room(body, name, &kind);
    if (e == API_E_OK && routes_room_is_lobby(name) && kind == ROOM_PRIVATE)
        e = API_E_ROOM_TAKEN;
    struct create_op *op = e == API_E_OK ? calloc(1, sizeof(*op)) : NULL;
    if (op) memcpy(op->name, name, sizeof(name)), op->kind = kind;
    json_decref(body);
    if (!op) {
        http_reply_error(r, e != API_E_OK ? e : API_E_INTERNAL, NULL);
        return;
    }
    op->r = r;
    http_client_address(r, op->address);
    if (store_session_get(r->srv->store, hash, r->srv->cfg.session_ttl, on_session, op) < 0)
        create_done(op, API_E_UNAVAILABLE);
}
