/* routes: the routing table of the REST API. */
#include "routes.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "addr_slots.h"
#include "http.h"
#include "log.h"
#include "server.h"
#include "store.h"
#include "token.h"
#include "validate.h"
#include "workers.h"

const struct route routes_table[] = {
    {"/user", EVHTTP_REQ_POST, route_user_register},
    {"/user", EVHTTP_REQ_PUT, route_user_login},
    {"/user", EVHTTP_REQ_GET, route_user_me},
    {"/user", EVHTTP_REQ_DELETE, route_user_delete},
    {"/user/session", EVHTTP_REQ_DELETE, route_user_logout},
    {"/user/password", EVHTTP_REQ_PUT, route_user_password},
    {"/user/token", EVHTTP_REQ_POST, route_user_token},
    {"/user/*/lock", EVHTTP_REQ_PUT, route_user_lock},
    {"/user/*/lock", EVHTTP_REQ_DELETE, route_user_unlock},
    {"/message", EVHTTP_REQ_POST, route_message_send},
    {"/message", EVHTTP_REQ_GET, route_message_list},
    {"/message/stream", EVHTTP_REQ_GET, route_message_stream},
    {"/stream", EVHTTP_REQ_GET, route_multi_stream},
    {"/ws", EVHTTP_REQ_GET, route_ws},
    {"/room", EVHTTP_REQ_GET, route_room_list},
    {"/room", EVHTTP_REQ_POST, route_room_create},
    {"/dm", EVHTTP_REQ_POST, route_direct_open},
    {"/room/*/message", EVHTTP_REQ_POST, route_message_send},
    {"/room/*/message", EVHTTP_REQ_GET, route_message_list},
    {"/room/*/message", EVHTTP_REQ_DELETE, route_message_remove},
    {"/room/*/message", EVHTTP_REQ_PATCH, route_message_edit},
    {"/room/*/message/stream", EVHTTP_REQ_GET, route_message_stream},
    {"/room/*/message/reaction", EVHTTP_REQ_PUT, route_reaction_add},
    {"/room/*/message/reaction", EVHTTP_REQ_DELETE, route_reaction_remove},
    {"/room/*/member", EVHTTP_REQ_GET, route_member_list},
    {"/room/*/member", EVHTTP_REQ_POST, route_member_add},
    {"/room/*/member", EVHTTP_REQ_PUT, route_member_set},
    {"/room/*/member", EVHTTP_REQ_DELETE, route_member_remove},
    {"/room/*/read", EVHTTP_REQ_PUT, route_room_read},
    {"/room/*/typing", EVHTTP_REQ_POST, route_room_typing},
    {"/room/*/presence", EVHTTP_REQ_GET, route_room_presence},
    {"/health", EVHTTP_REQ_GET, route_health},
    {"/metrics", EVHTTP_REQ_GET, route_metrics},
    {"/ready", EVHTTP_REQ_GET, route_ready},
    /* the server API, for an application's backend (an API key, no session) */
    {"/api/v1/room", EVHTTP_REQ_POST, route_api_room_create},
    {"/api/v1/room", EVHTTP_REQ_GET, route_api_room_list},
    {"/api/v1/room/*/counts", EVHTTP_REQ_GET, route_api_room_counts},
    {"/api/v1/room/*/presence", EVHTTP_REQ_GET, route_api_room_presence},
    {"/api/v1/room/*/member", EVHTTP_REQ_GET, route_api_member_list},
    {"/api/v1/room/*/member", EVHTTP_REQ_POST, route_api_member_add},
    {"/api/v1/room/*/member", EVHTTP_REQ_PUT, route_api_member_set},
    {"/api/v1/room/*/member", EVHTTP_REQ_DELETE, route_api_member_remove},
    {"/api/v1/room/*/message", EVHTTP_REQ_POST, route_api_message_publish},
    {"/api/v1/room/*/message", EVHTTP_REQ_GET, route_api_message_history},
    {"/api/v1/room/*/message", EVHTTP_REQ_DELETE, route_api_message_remove},
    {"/api/v1/user/*/session", EVHTTP_REQ_GET, route_api_user_sessions},
    {"/api/v1/user/*/session", EVHTTP_REQ_DELETE, route_api_user_disconnect},
    /* the browser client's files (webroot.c lists them) */
    {"/", EVHTTP_REQ_GET, route_static},
    {"/app.js", EVHTTP_REQ_GET, route_static},
    {"/app.css", EVHTTP_REQ_GET, route_static},
    {"/favicon.svg", EVHTTP_REQ_GET, route_static},
    {"/clusterchat.js", EVHTTP_REQ_GET, route_static},
};

const size_t routes_count = sizeof(routes_table) / sizeof(routes_table[0]);

const char *routes_room_or_400(struct request *r) {
    if (!r->param[0]) return STORE_ROOM_LOBBY; /* the seed's /message/ paths */
    if (validate_room_name(r->param)) return r->param;
    http_reply_error(r, API_E_INVALID_ROOM, NULL);
    return NULL;
}

bool routes_room_is_lobby(const char *room) { return strcmp(room, STORE_ROOM_LOBBY) == 0; }

api_error routes_room_error(enum store_status st) {
    return st == STORE_NOT_FOUND ? API_E_NOT_FOUND : routes_store_error(st);
}

int routes_compare_names(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool routes_session_hash_or_401(struct request *r, char hash[TOKEN_HASH_LEN + 1]) {
    char token[TOKEN_LEN + 1];
    if (!http_session_token(r, token)) {
        http_reply_error(r, API_E_UNAUTHORIZED, NULL);
        return false;
    }
    token_hash(token, hash);
    sodium_memzero(token, sizeof(token));
    return true;
}

bool routes_message_target_or_4xx(struct request *r, const char **room,
                                  char hash[TOKEN_HASH_LEN + 1], char id[CHAT_STREAM_ID_MAX + 1]) {
    if (!(*room = routes_room_or_400(r)) || !routes_session_hash_or_401(r, hash)) return false;
    const char *query = http_query(r, "id");
    if (!query || !validate_stream_id(query)) {
        http_reply_error(r, API_E_INVALID_QUERY, "id must be a message id.");
        return false;
    }
    memcpy(id, query, strlen(query) + 1); /* validate_stream_id bounds its length */
    return true;
}

api_error routes_store_error(enum store_status st) {
    if (st == STORE_FULL) return API_E_STORAGE_FULL;
    return st == STORE_UNAVAILABLE ? API_E_UNAVAILABLE : API_E_INTERNAL;
}

/* Seconds a client over its per-address cap is asked to wait: long enough
 * not to spin, short against a stream's life. */
#define ADDRESS_RETRY_AFTER_S "5"

static void on_hashing_client_gone(struct request *r) {
    if (workers_cancel(r->srv->workers, r->stream_arg))
        log_info("req=%s msg=\"password check dropped: the client is gone\"", r->id);
}

api_error routes_submit_hashing(struct request *r, workers_work_fn *work, workers_done_fn *done,
                                void *arg) {
    r->stream_arg = arg;
    http_on_client_gone(r, on_hashing_client_gone);
    int rc = workers_submit(r->srv->workers, work, done, arg);
    if (rc == 0) return API_E_OK;
    return rc == WORKERS_FULL ? API_E_BUSY : API_E_INTERNAL;
}

bool routes_take_address_slot(struct request *r, struct addr_slots *t,
                              char address[CLIENT_ADDR_MAX]) {
    http_client_address(r, address);
    if (addr_slots_take(t, address)) return true;
    http_add_header(r, "Retry-After", ADDRESS_RETRY_AFTER_S);
    http_reply_error(r, API_E_TOO_MANY_FROM_ADDRESS, NULL);
    return false;
}

int routes_count_password_attempt(struct request *r, const char *email, ratelimit_fn *done,
                                  void *arg) {
    char address[CLIENT_ADDR_MAX];
    http_client_address(r, address);
    struct rate_check checks[] = {{RATE_LOGIN_ADDRESS, address}, {RATE_LOGIN_EMAIL, email}};
    return ratelimit_check(&r->srv->limits, checks, 2, done, arg);
}

void routes_reply_rate_refused(struct request *r, enum rate_verdict verdict, int retry_after_s) {
    if (verdict != RATE_LIMITED) {
        http_reply_error(r, API_E_UNAVAILABLE, NULL);
        return;
    }
    char seconds[16];
    snprintf(seconds, sizeof(seconds), "%d", retry_after_s);
    http_add_header(r, "Retry-After", seconds);
    http_reply_error(r, API_E_RATE_LIMITED, NULL);
}
