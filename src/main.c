/*
 * main: chatd's entry point. Reads the configuration, builds the server
 * (Redis layer, store, worker pool, HTTP), runs the event loop until SIGINT
 * or SIGTERM, and tears everything down in the order that lets every
 * pending callback answer its request.
 */
#include <curl/curl.h>
#include <event2/event.h>
#include <signal.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "addr_slots.h"
#include "cluster.h"
#include "cluster_conn.h"
#include "config.h"
#include "ev_cache.h"
#include "http.h"
#include "hub.h"
#include "jwt_keys.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"
#include "routes.h"
#include "server.h"
#include "session_cache.h"
#include "session_events.h"
#include "session_streams.h"
#include "sse_fanout.h"
#include "sse_frame.h"
#include "presence.h"
#include "store.h"
#include "webhooks.h"
#include "webroot.h"
#include "workers.h"

static void add_timer(struct event *ev, int ms) {
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(ev, &tv);
}

#define FLUSH_LINGER_MS 500 /* at most this long for the last replies' bytes */

/* Exits once every request is answered and its reply written out (or, for
 * the writing, after FLUSH_LINGER_MS: a vanished client leaves it counted). */
static void on_stop_poll(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct server *srv = arg;
    struct server_stopping *stop = &srv->stopping;
    size_t inflight = http_inflight(srv);
    if (inflight == 0 && (http_unflushed(srv) == 0 || stop->lingered_ms >= FLUSH_LINGER_MS)) {
        event_base_loopexit(srv->base, NULL);
        return;
    }
    if (inflight == 0) stop->lingered_ms += 20;
    add_timer(stop->poll, 20);
}

static void on_drain_delay(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct server *srv = arg;
    http_stop_accepting(srv);
    routes_stream_close_all(srv->streams); /* clients reconnect, through the balancer, elsewhere */
    routes_multi_stream_close_all(srv);
    routes_ws_close_all(srv->ws);
    routes_wait_close_all(srv->long_polls);
    log_info("msg=\"stopped accepting\" in_flight=%zu", http_inflight(srv));
    on_stop_poll(-1, 0, srv);
}

static void on_grace_over(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct server *srv = arg;
    log_warn("msg=\"grace period over, exiting\" in_flight=%zu", http_inflight(srv));
    event_base_loopexit(srv->base, NULL);
}

/* SIGTERM or SIGINT: /ready turns 503, accepting stops after the drain
 * delay, chatd exits when the last request is answered or the grace period
 * ends. A second signal exits at once. */
static void on_signal(evutil_socket_t sig, short what, void *arg) {
    (void)what;
    struct server *srv = arg;
    if (srv->draining) {
        log_info("msg=\"second signal, exiting now\" signal=%d", (int)sig);
        event_base_loopexit(srv->base, NULL);
        return;
    }
    srv->draining = 1;
    log_info("msg=\"draining\" signal=%d drain_delay_ms=%d grace_ms=%d", (int)sig,
             srv->cfg.drain_delay_ms, srv->cfg.grace_ms);
    struct server_stopping *stop = &srv->stopping;
    stop->delay = evtimer_new(srv->base, on_drain_delay, srv);
    stop->poll = evtimer_new(srv->base, on_stop_poll, srv);
    stop->grace = evtimer_new(srv->base, on_grace_over, srv);
    add_timer(stop->grace, srv->cfg.grace_ms);
    add_timer(stop->delay, srv->cfg.drain_delay_ms);
}

/* SIGINT and SIGTERM start a graceful stop. 0 or -1. */
static int catch_signals(struct server *srv) {
    struct server_stopping *stop = &srv->stopping;
    stop->sigint = evsignal_new(srv->base, SIGINT, on_signal, srv);
    stop->sigterm = evsignal_new(srv->base, SIGTERM, on_signal, srv);
    if (!stop->sigint || !stop->sigterm) return -1;
    event_add(stop->sigint, NULL);
    event_add(stop->sigterm, NULL);
    return 0;
}

static void free_event(struct event *ev) {
    if (ev) event_free(ev);
}

static void free_stopping(struct server_stopping *stop) {
    free_event(stop->sigint);
    free_event(stop->sigterm);
    free_event(stop->delay);
    free_event(stop->poll);
    free_event(stop->grace);
}

/* The hash verified for unknown e-mail addresses, so that they take as long
 * as wrong passwords. Made once at start-up, before the loop runs. */
static int make_dummy_hash(struct server *srv) {
    char pw[32];
    randombytes_buf(pw, sizeof(pw));
    int rc = crypto_pwhash_str(srv->dummy_hash, pw, sizeof(pw),
                               crypto_pwhash_OPSLIMIT_INTERACTIVE,
                               crypto_pwhash_MEMLIMIT_INTERACTIVE);
    sodium_memzero(pw, sizeof(pw));
    return rc;
}

/* Reads the browser client's files; chatd serves the API without them. */
static int load_web_root(struct server *srv) {
    char missing[256];
    srv->web = webroot_load(srv->cfg.web_root, missing, sizeof(missing));
    if (!srv->web) return -1;
    size_t loaded = webroot_loaded(srv->web);
    if (loaded == webroot_known())
        log_info("msg=\"web client loaded\" web_root=\"%s\" files=%zu", srv->cfg.web_root, loaded);
    else
        log_warn("msg=\"web client files missing, answered 404\" web_root=\"%s\" missing=\"%s\"",
                 srv->cfg.web_root, missing);
    return 0;
}

/* Every connection costs a descriptor: raise the soft open-file limit to
 * the hard one and say what it is. */
static void raise_open_files(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t was = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) rl.rlim_cur = was;
    }
    log_info("msg=\"open files limit\" nofile=%llu", (unsigned long long)rl.rlim_cur);
}

/* Reads the token verification keys of --jwt-key and --jwt-jwks (none:
 * POST /user/token answers 404). -1 when a file is unusable. */
static int load_jwt_keys(struct server *srv) {
    char err[256];
    const char *key = srv->cfg.jwt_key, *jwks = srv->cfg.jwt_jwks;
    if (!key[0] && !jwks[0]) return 0;
    if (!(srv->jwt_keys = jwt_keys_new())) return -1;
    if ((key[0] && jwt_keys_load_key_file(srv->jwt_keys, key, err) < 0) ||
        (jwks[0] && jwt_keys_load_jwks_file(srv->jwt_keys, jwks, err) < 0)) {
        log_error("msg=\"unusable token key\" err=\"%s\"", err);
        return -1;
    }
    if (jwt_keys_count(srv->jwt_keys) == 0) {
        log_error("msg=\"no token key\" err=\"--jwt-jwks holds no signing key\"");
        return -1;
    }
    log_info("msg=\"token login on\" keys=%zu issuer=\"%s\" audience=\"%s\"",
             jwt_keys_count(srv->jwt_keys), srv->cfg.jwt_issuer, srv->cfg.jwt_audience);
    return 0;
}

/* Sets up the webhooks of --webhook (none: nothing runs); -1 on a bad
 * setting. */
static int start_webhooks(struct server *srv) {
    char err[256];
    if (webhooks_new(srv->base, srv->store, &srv->cfg, &srv->webhooks, err) < 0) {
        log_error("msg=\"bad webhook setting\" err=\"%s\"", err);
        return -1;
    }
    if (srv->webhooks)
        log_info("msg=\"webhooks on\" shards=%d concurrency=%d", srv->cfg.webhook_shards,
                 srv->cfg.webhook_concurrency);
    return 0;
}

static int server_start(struct server *srv) {
    char err[256];
    srv->base = event_base_new();
    if (!srv->base) return -1;
    struct cluster_options opts = {.seeds = srv->cfg.redis,
                                   .timeout_ms = srv->cfg.redis_timeout_ms,
                                   .min_replica_acks = srv->cfg.min_replica_acks,
                                   .wait_timeout_ms = srv->cfg.wait_timeout_ms,
                                   .refresh_period_ms = srv->cfg.topology_refresh_ms,
                                   .auth = {srv->cfg.redis_user, srv->cfg.redis_password}};
    srv->cluster = cluster_new(srv->base, &opts, err);
    if (!srv->cluster) {
        log_error("msg=\"bad --redis\" err=\"%s\"", err);
        return -1;
    }
    if (srv->cfg.session_cache_ms > 0)
        srv->session_cache = session_cache_new((size_t)srv->cfg.session_cache_size,
                                               srv->cfg.session_cache_ms);
    srv->store = store_new(srv->base, srv->cluster, srv->session_cache);
    if (srv->store)
        store_set_retention(srv->store, srv->cfg.history_max_messages, srv->cfg.history_max_age);
    /* the announcements of ended sessions keep the cache honest (when on)
     * and end those sessions' open streams (always) */
    srv->session_streams = session_streams_new((size_t)srv->cfg.max_streams);
    bool cache_ok = srv->session_cache || srv->cfg.session_cache_ms <= 0;
    if (srv->store && srv->session_streams && cache_ok)
        srv->session_events = session_events_new(srv->base, srv->store, srv->session_cache,
                                                 srv->session_streams, srv->cfg.redis_timeout_ms);
    if (!srv->session_events) {
        log_error("msg=\"cannot start the session events\"");
        return -1;
    }
    srv->hub = hub_new(srv->base, srv->store);
    srv->sse_frame = sse_frame_new();
    enum workers_priority priority = WORKERS_PRIORITY_IDLE;
    (void)workers_priority_parse(srv->cfg.worker_priority, &priority); /* checked in main() */
    srv->workers = workers_new(srv->base, srv->cfg.workers, priority);
    if (srv->workers) workers_set_max_queued(srv->workers, (size_t)srv->cfg.max_hash_queue);
    if (!srv->store || !srv->hub || !srv->sse_frame || !srv->workers || make_dummy_hash(srv) != 0) {
        log_error("msg=\"cannot start workers\"");
        return -1;
    }
    srv->request_id_base = randombytes_random();
    if (!(srv->metrics = metrics_new())) return -1;
    ratelimit_attach(&srv->limits, srv->store, srv->base, srv->metrics);
    if (load_web_root(srv) < 0 || load_jwt_keys(srv) < 0 || start_webhooks(srv) < 0) return -1;
    if (!(srv->fanout = fanout_new(srv->cfg.fanout_threads))) return -1;
    if (!(srv->streams = routes_stream_new(srv))) return -1;
    if (!(srv->long_polls = routes_wait_new())) return -1;
    if (!(srv->ws = routes_ws_new(srv))) return -1;
    if (!(srv->stream_slots = addr_slots_new(srv->cfg.max_streams_per_address))) return -1;
    if (!(srv->long_poll_slots = addr_slots_new(srv->cfg.max_long_polls_per_address))) return -1;
    if (!(srv->presence = presence_new(srv->base, srv->store, srv->cfg.presence_ttl_ms)))
        return -1;
    return http_start(srv, routes_table, routes_count);
}

/* Stops and frees all that server_start made (after it failed half-way
 * too), in the order that lets every pending callback answer its request:
 * 1. The sources of callbacks stop: the session cache stops answering,
 *    the workers stop (their callbacks may still use the store), the
 *    session reads already answered from the cache run, the webhooks stop
 *    delivering (their POSTs end; what they held stays pending in Redis
 *    for another chatd), and Redis goes (every pending callback runs,
 *    answering with 503).
 * 2. The requests end: streams and long-polls are answered, then the HTTP
 *    layer aborts what is left and frees itself. No request is left.
 * 3. What only requests used is freed: the lists of streams and
 *    long-polls, the hub (no subscriber is left), the framer, the fan-out, the store,
 *    the session cache, the web root, the webhooks, the metrics, the stop's
 *    events and last the loop. */
static void server_stop(struct server *srv) {
    session_events_free(srv->session_events);
    workers_free(srv->workers);
    store_run_queued(srv->store);
    webhooks_stop(srv->webhooks);
    cluster_free(srv->cluster);

    routes_stream_close_all(srv->streams);
    routes_multi_stream_close_all(srv);
    routes_ws_close_all(srv->ws);
    routes_wait_close_all(srv->long_polls);
    http_stop(srv);

    routes_stream_free(srv->streams);
    routes_multi_stream_free(srv);
    routes_wait_free(srv->long_polls);
    routes_ws_free(srv->ws);
    addr_slots_free(srv->stream_slots);
    addr_slots_free(srv->long_poll_slots);
    hub_free(srv->hub);
    presence_free(srv->presence); /* what it kept in Redis expires by itself */
    sse_frame_free(srv->sse_frame);
    fanout_free(srv->fanout);
    store_free(srv->store);
    session_cache_free(srv->session_cache);
    session_streams_free(srv->session_streams);
    webroot_free(srv->web);
    jwt_keys_free(srv->jwt_keys);
    webhooks_free(srv->webhooks);
    metrics_free(srv->metrics);
    free_stopping(&srv->stopping);
    if (srv->base) event_base_free(srv->base);
}

int main(int argc, char **argv) {
    struct server srv;
    memset(&srv, 0, sizeof(srv));
    char err[256];
    int rc = config_load(&srv.cfg, argc, argv, err);
    if (rc != 0) {
        if (rc < 0) fprintf(stderr, "chatd: %s\n", err);
        return rc < 0 ? 2 : 0;
    }
    if (log_level_parse(srv.cfg.log_level, &log_threshold) < 0) {
        fprintf(stderr, "chatd: --log-level: unknown level '%s'\n", srv.cfg.log_level);
        return 2;
    }
    if ((long long)srv.cfg.session_cache_ms > (long long)srv.cfg.session_ttl * 1000) {
        fprintf(stderr, "chatd: --session-cache-ms must not exceed --session-ttl\n");
        return 2;
    }
    enum workers_priority priority;
    if (workers_priority_parse(srv.cfg.worker_priority, &priority) < 0) {
        fprintf(stderr, "chatd: --worker-priority: expected idle or nice, got '%s'\n",
                srv.cfg.worker_priority);
        return 2;
    }
    if (ratelimit_init(&srv.limits, &srv.cfg, err) < 0) {
        fprintf(stderr, "chatd: %s\n", err);
        return 2;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "chatd: libsodium failed to initialise\n");
        return 1;
    }
    bool curl_used = srv.cfg.webhooks[0] != '\0'; /* only webhooks use libcurl */
    if (curl_used && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "chatd: libcurl failed to initialise\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    raise_open_files();
    ev_cache_install(); /* before any other libevent call */
    if (server_start(&srv) < 0 || catch_signals(&srv) < 0) {
        server_stop(&srv);
        ev_cache_release();
        if (curl_used) curl_global_cleanup();
        return 1;
    }
    log_info("msg=\"chatd started\" bind=%s port=%d redis=%s workers=%d worker_priority=%s"
             " reuseport=%d session_cache_ms=%d",
             srv.cfg.bind, srv.cfg.port, srv.cfg.redis, srv.cfg.workers, srv.cfg.worker_priority,
             srv.cfg.reuseport, srv.cfg.session_cache_ms);
    event_base_dispatch(srv.base);
    server_stop(&srv);
    ev_cache_release();
    if (curl_used) curl_global_cleanup();
    log_info("msg=\"chatd stopped\"");
    return 0;
}
