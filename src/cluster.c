/* cluster: hiredis async connection with reconnects and command timeouts. */
#include "cluster.h"

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define RECONNECT_MIN_MS 50
#define RECONNECT_MAX_MS 1000

/* A command sent and not yet answered; kept in send order. */
struct pending {
    struct cluster *owner;  /* the layer that sent it */
    cluster_reply_fn *cb;   /* the caller's callback */
    void *arg;              /* the caller's argument */
    long long sent_ms;      /* monotonic send time */
    struct pending *prev, *next;
};

struct cluster {
    struct event_base *base;      /* the loop everything runs on */
    char host[256];               /* the node we talk to */
    int port;
    int timeout_ms;               /* command timeout */
    redisAsyncContext *ctx;       /* current connection, NULL when none */
    bool connected;               /* ctx finished connecting */
    long long connect_ms;         /* when ctx started connecting */
    struct pending *head, *tail;  /* commands in flight, oldest first */
    struct event *reconnect_ev;   /* fires the next connection attempt */
    struct event *watchdog_ev;    /* checks the oldest command's age */
    int backoff_ms;               /* delay before the next attempt */
    bool closing;                 /* cluster_free() is running */
};

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pending_unlink(struct cluster *c, struct pending *p) {
    if (p->prev) p->prev->next = p->next;
    else c->head = p->next;
    if (p->next) p->next->prev = p->prev;
    else c->tail = p->prev;
}

static void schedule_reconnect(struct cluster *c) {
    if (c->closing) return;
    struct timeval tv = {c->backoff_ms / 1000, (c->backoff_ms % 1000) * 1000};
    evtimer_add(c->reconnect_ev, &tv);
    c->backoff_ms = c->backoff_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : c->backoff_ms * 2;
}

static void on_connect(const redisAsyncContext *ctx, int status) {
    struct cluster *c = ctx->data;
    if (status != REDIS_OK) {
        /* hiredis frees a context whose connect failed. */
        log_warn("msg=\"redis connect failed\" node=%s:%d err=\"%s\"", c->host, c->port,
                 ctx->errstr);
        c->ctx = NULL;
        schedule_reconnect(c);
        return;
    }
    c->connected = true;
    c->backoff_ms = RECONNECT_MIN_MS;
    log_info("msg=\"redis connected\" node=%s:%d", c->host, c->port);
}

static void on_disconnect(const redisAsyncContext *ctx, int status) {
    struct cluster *c = ctx->data;
    if (status != REDIS_OK || !c->closing)
        log_warn("msg=\"redis disconnected\" node=%s:%d err=\"%s\"", c->host, c->port,
                 ctx->err ? ctx->errstr : "closed");
    c->ctx = NULL;
    c->connected = false;
    schedule_reconnect(c);
}

static void connect_now(struct cluster *c) {
    redisAsyncContext *ctx = redisAsyncConnect(c->host, c->port);
    if (!ctx || ctx->err) {
        log_warn("msg=\"redis connect failed\" node=%s:%d err=\"%s\"", c->host, c->port,
                 ctx ? ctx->errstr : "out of memory");
        if (ctx) redisAsyncFree(ctx);
        schedule_reconnect(c);
        return;
    }
    ctx->data = c;
    c->connect_ms = now_ms();
    redisLibeventAttach(ctx, c->base);
    redisAsyncSetConnectCallback(ctx, on_connect);
    redisAsyncSetDisconnectCallback(ctx, on_disconnect);
    c->ctx = ctx;
}

static void on_reconnect_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    connect_now(arg);
}

/* Frees the connection: every pending callback runs with NULL. */
static void drop_connection(struct cluster *c) {
    redisAsyncContext *ctx = c->ctx;
    redisAsyncFree(ctx);
    if (c->ctx == ctx) { /* on_disconnect did not run (never connected) */
        c->ctx = NULL;
        c->connected = false;
        schedule_reconnect(c);
    }
}

/* Drops the connection when its oldest command waits too long (replies come
 * in order, so everything behind it is stuck too) or when connecting takes
 * longer than a command may. */
static void on_watchdog(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct cluster *c = arg;
    if (!c->ctx) return;
    long long now = now_ms();
    if (c->head && now - c->head->sent_ms >= c->timeout_ms) {
        log_warn("msg=\"redis command timed out, reconnecting\" node=%s:%d timeout_ms=%d",
                 c->host, c->port, c->timeout_ms);
        drop_connection(c);
    } else if (!c->connected && now - c->connect_ms >= c->timeout_ms) {
        log_warn("msg=\"redis connect timed out\" node=%s:%d", c->host, c->port);
        drop_connection(c);
    }
}

static int parse_first_seed(struct cluster *c, const char *seeds, char err[256]) {
    size_t len = strcspn(seeds, ",");
    const char *colon = memrchr(seeds, ':', len);
    if (!colon || colon == seeds || (size_t)(colon - seeds) >= sizeof(c->host)) {
        snprintf(err, 256, "bad Redis address '%.*s' (want host:port)", (int)len, seeds);
        return -1;
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (end != seeds + len || port < 1 || port > 65535) {
        snprintf(err, 256, "bad Redis port in '%.*s'", (int)len, seeds);
        return -1;
    }
    memcpy(c->host, seeds, (size_t)(colon - seeds));
    c->host[colon - seeds] = '\0';
    c->port = (int)port;
    return 0;
}

struct cluster *cluster_new(struct event_base *base, const char *seeds, int timeout_ms,
                            char err[256]) {
    struct cluster *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, 256, "out of memory");
        return NULL;
    }
    c->base = base;
    c->timeout_ms = timeout_ms;
    c->backoff_ms = RECONNECT_MIN_MS;
    if (parse_first_seed(c, seeds, err) < 0) {
        free(c);
        return NULL;
    }
    c->reconnect_ev = evtimer_new(base, on_reconnect_timer, c);
    c->watchdog_ev = event_new(base, -1, EV_PERSIST, on_watchdog, c);
    int tick = timeout_ms / 4 < 250 ? timeout_ms / 4 : 250;
    struct timeval tv = {tick / 1000, (tick % 1000) * 1000};
    if (!c->reconnect_ev || !c->watchdog_ev || event_add(c->watchdog_ev, &tv) < 0) {
        snprintf(err, 256, "cannot create timers");
        cluster_free(c);
        return NULL;
    }
    connect_now(c);
    return c;
}

void cluster_free(struct cluster *c) {
    if (!c) return;
    c->closing = true;
    if (c->ctx) redisAsyncFree(c->ctx);
    if (c->reconnect_ev) event_free(c->reconnect_ev);
    if (c->watchdog_ev) event_free(c->watchdog_ev);
    free(c);
}

static void on_reply(redisAsyncContext *ctx, void *r, void *privdata) {
    (void)ctx;
    struct pending *p = privdata;
    pending_unlink(p->owner, p);
    p->cb(r, p->arg);
    free(p);
}

int cluster_command_argv(struct cluster *c, const char *key, size_t keylen,
                         cluster_reply_fn *cb, void *arg, int argc, const char **argv,
                         const size_t *argvlen) {
    (void)key, (void)keylen; /* one node: every slot lives there */
    if (!c->connected || c->closing) return -1;
    struct pending *p = calloc(1, sizeof(*p));
    if (!p) return -1;
    *p = (struct pending){.owner = c, .cb = cb, .arg = arg, .sent_ms = now_ms(), .prev = c->tail};
    if (redisAsyncCommandArgv(c->ctx, on_reply, p, argc, argv, argvlen) != REDIS_OK) {
        free(p);
        return -1;
    }
    if (c->tail) c->tail->next = p;
    else c->head = p;
    c->tail = p;
    return 0;
}

bool cluster_connected(const struct cluster *c) { return c->connected; }
