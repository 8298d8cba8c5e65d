/*
 * routes_api: the door of the server API (/api/v1/...), for an
 * application's backend. Every call names an API key in
 * "Authorization: Bearer ck_<id>_<secret>" (never a cookie: a browser's
 * session is no key, and a key is no session on the user routes). The key
 * is read by id from Redis on every call (no cache, so a revoked key is
 * refused on every chatd at once), its secret's hash compared in constant
 * time, the call counted against --limit-api-key for that key, and logged
 * with the key's id (never the secret) before the route runs.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "apikey.h"
#include "http.h"
#include "log.h"
#include "ratelimit.h"
#include "routes.h"
#include "server.h"
#include "store.h"

struct api_call {
    struct request *r;
    routes_api_fn *then;                /* the route, once the key passed */
    char key_id[APIKEY_ID_LEN + 1];
    char hash[APIKEY_HASH_LEN + 1];     /* of the secret the caller sent */
};

static void call_fail(struct api_call *c, api_error e) {
    http_reply_error(c->r, e, NULL);
    free(c);
}

static void call_run(struct api_call *c) {
    log_info("req=%s msg=\"server api call\" key=%s method=%s path=\"%s\"", c->r->id, c->key_id,
             c->r->method, c->r->path);
    c->then(c->r, c->key_id);
    free(c);
}

static void on_allowed(enum rate_verdict verdict, int retry_after_s, void *arg) {
    struct api_call *c = arg;
    if (verdict == RATE_ALLOWED) {
        call_run(c);
        return;
    }
    log_info("req=%s msg=\"server api call refused: rate limit\" key=%s", c->r->id, c->key_id);
    routes_reply_rate_refused(c->r, verdict, retry_after_s);
    free(c);
}

static void on_key(enum store_status st, const char *stored, void *arg) {
    struct api_call *c = arg;
    if (st != STORE_OK && st != STORE_NOT_FOUND) {
        call_fail(c, routes_store_error(st));
        return;
    }
    if (st == STORE_NOT_FOUND || !apikey_hash_matches(stored, c->hash)) {
        log_info("req=%s msg=\"server api key refused\" key=%s", c->r->id, c->key_id);
        call_fail(c, API_E_INVALID_API_KEY);
        return;
    }
    struct rate_check check = {RATE_API_KEY, c->key_id};
    if (!ratelimit_enabled(&c->r->srv->limits, RATE_API_KEY)) call_run(c);
    else if (ratelimit_check(&c->r->srv->limits, &check, 1, on_allowed, c) < 0)
        call_fail(c, API_E_INTERNAL);
}

void routes_api_call(struct request *r, routes_api_fn *then) {
    struct apikey key;
    if (!apikey_from_authorization(http_known_header(r, HTTP_H_AUTHORIZATION), &key)) {
        http_reply_error(r, API_E_INVALID_API_KEY, NULL);
        return;
    }
    struct api_call *c = calloc(1, sizeof(*c));
    if (!c) {
        sodium_memzero(&key, sizeof(key));
        http_reply_error(r, API_E_INTERNAL, NULL);
        return;
    }
    c->r = r;
    c->then = then;
    memcpy(c->key_id, key.id, sizeof(c->key_id));
    apikey_hash(key.secret, c->hash);
    sodium_memzero(&key, sizeof(key));
    if (store_apikey_hash(r->srv->store, c->key_id, on_key, c) < 0)
        call_fail(c, API_E_UNAVAILABLE);
}
