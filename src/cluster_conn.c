/* cluster_conn: one reconnecting hiredis async connection, see cluster_conn.h. */
#include "cluster_conn.h"

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "redis_events.h"
#include "reply_arena.h"

#define RECONNECT_MIN_MS 50
#define RECONNECT_MAX_MS 1000

/* A command sent and not yet answered; kept in send order. */
struct pending {
    struct conn *conn;
    conn_reply_fn *fn;
    void *privdata;
    long long sent_ms;
    struct pending *prev, *next;
};

struct conn {
    struct event_base *base;     /* the loop */
    const struct conn_auth *auth; /* AUTH on every connection, or NULL */
    char host[256];              /* the node's address */
    int port;
    int stall_timeout_ms;        /* 0: never drop for slowness */
    conn_state_fn *on_state;     /* owner's notification */
    void *owner;
    redisAsyncContext *ctx;      /* NULL while down */
    bool up;                     /* ctx finished connecting */
    long long connect_ms;        /* when ctx started connecting */
    struct pending *head, *tail; /* commands in flight, oldest first */
    size_t npending;
    struct event *reconnect_ev;  /* next connection attempt */
    int backoff_ms;              /* delay before the next attempt */
    bool closing;                /* conn_free() is running */
    conn_reply_fn *sub_fn;       /* the subscription's fn, until it got NULL */
    void *sub_privdata;
};

/* The answer to AUTH; NULL when the connection went first. The commands
 * behind a refused AUTH fail with NOAUTH, which the callers see as errors. */
static void on_auth(redisAsyncContext *ctx, void *reply, void *privdata) {
    (void)privdata;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ERROR)
        log_error("msg=\"redis AUTH refused\" node=%s:%d err=\"%s\"", ctx->c.tcp.host,
                  ctx->c.tcp.port, r->str);
}

long long conn_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void schedule_reconnect(struct conn *c) {
    if (c->closing) return;
    struct timeval tv = {c->backoff_ms / 1000, (c->backoff_ms % 1000) * 1000};
    evtimer_add(c->reconnect_ev, &tv);
    c->backoff_ms = c->backoff_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : c->backoff_ms * 2;
}

/* The context is gone (failed, lost or freed): note it once and retry later. */
static void went_down(struct conn *c) {
    bool was_up = c->up;
    c->ctx = NULL;
    c->up = false;
    schedule_reconnect(c);
    if (was_up && !c->closing && c->on_state) c->on_state(c, false, c->owner);
}

static void on_connect(const redisAsyncContext *ctx, int status) {
    struct conn *c = ctx->data;
    if (status != REDIS_OK) { /* hiredis frees the context itself */
        log_debug("msg=\"redis connect failed\" node=%s:%d err=\"%s\"", c->host, c->port,
                  ctx->errstr);
        went_down(c);
        return;
    }
    c->up = true;
    c->backoff_ms = RECONNECT_MIN_MS;
    log_debug("msg=\"redis connected\" node=%s:%d", c->host, c->port);
    if (c->on_state) c->on_state(c, true, c->owner);
}

static void on_disconnect(const redisAsyncContext *ctx, int status) {
    struct conn *c = ctx->data;
    if (!c->closing)
        log_info("msg=\"redis connection lost\" node=%s:%d err=\"%s\"", c->host, c->port,
                 status == REDIS_OK ? "closed" : ctx->errstr);
    went_down(c);
}

/* Queues AUTH when a password is set. */
static void send_auth(redisAsyncContext *ctx, const struct conn_auth *auth) {
    const char *user = auth && auth->user ? auth->user : "";
    const char *password = auth && auth->password ? auth->password : "";
    if (password[0] && user[0])
        redisAsyncCommand(ctx, on_auth, NULL, "AUTH %s %s", user, password);
    else if (password[0])
        redisAsyncCommand(ctx, on_auth, NULL, "AUTH %s", password);
}

static void connect_now(struct conn *c) {
    redisAsyncContext *ctx = redisAsyncConnect(c->host, c->port);
    if (!ctx || ctx->err) {
        if (ctx) redisAsyncFree(ctx);
        schedule_reconnect(c);
        return;
    }
    if (redis_events_attach(ctx, c->base) < 0) {
        redisAsyncFree(ctx);
        schedule_reconnect(c);
        return;
    }
    ctx->data = c;
    reply_arena_attach(ctx); /* replies in one arena each, not one malloc per object */
    c->connect_ms = conn_now_ms();
    redisAsyncSetConnectCallback(ctx, on_connect);
    redisAsyncSetDisconnectCallback(ctx, on_disconnect);
    c->ctx = ctx;
    send_auth(ctx, c->auth); /* queued first, so it goes out before any command */
}

static void on_reconnect_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    connect_now(arg);
}

struct conn *conn_new(struct event_base *base, const char *host, int port,
                      const struct conn_auth *auth, int stall_timeout_ms, conn_state_fn *on_state,
                      void *owner) {
    struct conn *c = calloc(1, sizeof(*c));
    if (!c || strlen(host) >= sizeof(c->host)) {
        free(c);
        return NULL;
    }
    memcpy(c->host, host, strlen(host) + 1);
    c->base = base;
    c->auth = auth;
    c->port = port;
    c->stall_timeout_ms = stall_timeout_ms;
    c->on_state = on_state;
    c->owner = owner;
    c->backoff_ms = RECONNECT_MIN_MS;
    c->reconnect_ev = evtimer_new(base, on_reconnect_timer, c);
    if (!c->reconnect_ev) {
        free(c);
        return NULL;
    }
    connect_now(c);
    return c;
}

/* Frees the context: every pending fn runs with NULL. */
static void drop(struct conn *c) {
    redisAsyncContext *ctx = c->ctx;
    redisAsyncFree(ctx);
    if (c->ctx == ctx) went_down(c); /* on_disconnect did not run: never connected */
}

void conn_free(struct conn *c) {
    if (!c) return;
    c->closing = true;
    if (c->ctx) drop(c);
    event_free(c->reconnect_ev);
    free(c);
}

void conn_check(struct conn *c, long long now_ms) {
    if (!c->ctx || c->stall_timeout_ms <= 0) return;
    if (c->head && now_ms - c->head->sent_ms >= c->stall_timeout_ms) {
        log_warn("msg=\"redis command timed out, reconnecting\" node=%s:%d timeout_ms=%d",
                 c->host, c->port, c->stall_timeout_ms);
        drop(c);
    } else if (!c->up && now_ms - c->connect_ms >= c->stall_timeout_ms) {
        log_warn("msg=\"redis connect timed out\" node=%s:%d", c->host, c->port);
        drop(c);
    }
}

static void on_reply(redisAsyncContext *ctx, void *reply, void *privdata) {
    (void)ctx;
    struct pending *p = privdata;
    struct conn *c = p->conn;
    if (p->prev) p->prev->next = p->next;
    else c->head = p->next;
    if (p->next) p->next->prev = p->prev;
    else c->tail = p->prev;
    c->npending--;
    p->fn(c, reply, p->privdata);
    free(p);
}

int conn_send(struct conn *c, const char *cmd, size_t len, conn_reply_fn *fn, void *privdata) {
    if (!c->ctx || c->closing) return -1;
    struct pending *p = calloc(1, sizeof(*p));
    if (!p) return -1;
    *p = (struct pending){.conn = c, .fn = fn, .privdata = privdata, .sent_ms = conn_now_ms(),
                          .prev = c->tail};
    if (redisAsyncFormattedCommand(c->ctx, on_reply, p, cmd, len) != REDIS_OK) {
        free(p);
        return -1;
    }
    if (c->tail) c->tail->next = p;
    else c->head = p;
    c->tail = p;
    c->npending++;
    return 0;
}

/* A subscription's reply or message; NULL once, when it ends with its context. */
static void on_subscription(redisAsyncContext *ctx, void *reply, void *privdata) {
    (void)ctx;
    struct conn *c = privdata;
    conn_reply_fn *fn = c->sub_fn;
    if (!fn) return;
    if (!reply) c->sub_fn = NULL;
    fn(c, reply, c->sub_privdata);
}

int conn_subscribe(struct conn *c, const char *cmd, size_t len, conn_reply_fn *fn,
                   void *privdata) {
    if (!c->ctx || c->closing || c->sub_fn) return -1;
    c->sub_fn = fn;
    c->sub_privdata = privdata;
    if (redisAsyncFormattedCommand(c->ctx, on_subscription, c, cmd, len) != REDIS_OK) {
        c->sub_fn = NULL;
        return -1;
    }
    return 0;
}

bool conn_is_up(const struct conn *c) { return c->up; }
bool conn_is_usable(const struct conn *c) { return c->ctx != NULL && !c->closing; }
size_t conn_pending(const struct conn *c) { return c->npending; }
long long conn_oldest_sent_ms(const struct conn *c) { return c->head ? c->head->sent_ms : -1; }
const char *conn_host(const struct conn *c) { return c->host; }
int conn_port(const struct conn *c) { return c->port; }
