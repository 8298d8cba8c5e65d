/*
 * routes_health: GET /health answers 200 when Redis answers a PING, else
 * 503; GET /ready tells a load balancer whether to send traffic here;
 * GET /metrics renders the counters.
 */
#include <event2/buffer.h>
#include <jansson.h>

#include "http.h"
#include "metrics.h"
#include "routes.h"
#include "server.h"
#include "store.h"

static void on_pong(enum store_status st, void *arg) {
    struct request *r = arg;
    if (st == STORE_OK) http_reply_json(r, 200, json_pack("{s:s, s:s}", "status", "ok", "redis", "ok"));
    else http_reply_error(r, API_E_UNAVAILABLE, NULL);
}

void route_health(struct request *r) {
    if (store_ping(r->srv->store, on_pong, r) < 0) http_reply_error(r, API_E_UNAVAILABLE, NULL);
}

/* GET /ready: 200 when this chatd should get traffic: not draining, and
 * the Redis cluster reachable with cluster_state:ok. A Redis whose memory
 * is full keeps it ready ("storage":"full"): reads are still served, and
 * every chatd shares that Redis, so taking this one out would help none. */
static void on_ready(enum store_status st, void *arg) {
    struct request *r = arg;
    const char *storage = store_is_full_now(r->srv->store) ? "full" : "ok";
    if (r->srv->draining) http_reply_error(r, API_E_DRAINING, NULL);
    else if (st == STORE_OK)
        http_reply_json(r, 200, json_pack("{s:s, s:s}", "status", "ready", "storage", storage));
    else http_reply_error(r, API_E_UNAVAILABLE, NULL);
}

void route_ready(struct request *r) {
    if (r->srv->draining) http_reply_error(r, API_E_DRAINING, NULL);
    else if (!store_is_ready_now(r->srv->store)) /* known at once: no need to wait */
        http_reply_error(r, API_E_UNAVAILABLE, NULL);
    else if (store_ready(r->srv->store, on_ready, r) < 0)
        http_reply_error(r, API_E_UNAVAILABLE, NULL);
}

/* GET /metrics: the Prometheus text format. */
void route_metrics(struct request *r) {
    struct evbuffer *out = evbuffer_new();
    if (!out || metrics_render(out, r->srv) < 0) {
        if (out) evbuffer_free(out);
        http_reply_error(r, API_E_INTERNAL, NULL);
        return;
    }
    http_reply_typed(r, 200, "text/plain; version=0.0.4; charset=utf-8", out);
    evbuffer_free(out);
}
