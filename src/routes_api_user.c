/*
 * routes_api_user: a user's sessions through the server API,
 * /api/v1/user/<userId>/session.
 *   GET     the user's sessions: a short id (the first 16 hex digits of
 *           the stored hash, never a token) and the login time of each
 *   DELETE  disconnects the user: ends every session on every chatd (the
 *           ends are announced, so session caches drop them and every
 *           open stream of those sessions ends: session_streams.h);
 *           204, also when there was none, so a retry is safe
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "routes.h"
#include "server.h"
#include "store.h"
#include "validate.h"

#define API_SESSION_ID_LEN 16 /* hex digits of a session's hash shown */

static bool user_or_400(struct request *r) {
    if (validate_user_id(r->param, strlen(r->param))) return true;
    http_reply_error(r, API_E_INVALID_USER_ID, NULL);
    return false;
}

static void on_sessions(enum store_status st, const char *const *fields, size_t n, void *arg) {
    struct request *r = arg;
    json_t *list = st == STORE_OK ? json_array() : NULL;
    for (size_t i = 0; list && i < n; i++) {
        const char *hash = fields[2 * i];
        json_array_append_new(list, json_pack("{s:s%,s:I}", "id", hash,
                                              strnlen(hash, API_SESSION_ID_LEN), "created",
                                              (json_int_t)strtoll(fields[2 * i + 1], NULL, 10)));
    }
    if (list) http_reply_json(r, 200, list);
    else http_reply_error(r, st == STORE_OK ? API_E_INTERNAL : routes_store_error(st), NULL);
}

static void sessions(struct request *r, const char *key_id) {
    (void)key_id;
    if (user_or_400(r) && store_user_sessions(r->srv->store, r->param, on_sessions, r) < 0)
        http_reply_error(r, API_E_UNAVAILABLE, NULL);
}

void route_api_user_sessions(struct request *r) { routes_api_call(r, sessions); }

/* A failure leaves some sessions: the retry ends them. */
static void on_ended(enum store_status st, void *arg) {
    struct request *r = arg;
    if (st != STORE_OK) {
        http_reply_error(r, routes_store_error(st), NULL);
        return;
    }
    log_info("req=%s msg=\"user disconnected\" user=%s", r->id, r->param);
    http_reply_empty(r, 204);
}

static void disconnect(struct request *r, const char *key_id) {
    (void)key_id;
    if (user_or_400(r) && store_user_sessions_end_all(r->srv->store, r->param, on_ended, r) < 0)
        http_reply_error(r, API_E_UNAVAILABLE, NULL);
}

void route_api_user_disconnect(struct request *r) { routes_api_call(r, disconnect); }
