/* routes_health: GET /health answers 200 when Redis answers a PING, else 503. */
#include <jansson.h>

#include "http.h"
#include "routes.h"
#include "server.h"
#include "store.h"

static void on_pong(enum store_status st, void *arg) {
    struct request *r = arg;
    if (st == STORE_OK) http_reply_json(r, 200, json_pack("{s:s, s:s}", "status", "ok", "redis", "ok"));
    else http_reply_error(r, CHAT_E_UNAVAILABLE, NULL);
}

void route_health(struct request *r) {
    if (store_ping(r->srv->store, on_pong, r) < 0) http_reply_error(r, CHAT_E_UNAVAILABLE, NULL);
}
