/* http_conns: counting, deadlines and close callbacks of client connections, see http_conns.h. */
#include "http_conns.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include "http_refusal.h"
#include "addr_slots.h"
#include "client_addr.h"
#include "log.h"
#include "metrics.h"

/* Beyond max_connections + this many, connections are cut at once. */
#define CONNS_RESERVE 64

/* One open connection, found by its socket. */
struct conn_slot {
    struct http_conns *t;            /* the table it is in */
    struct evhttp_connection *evcon; /* NULL: the slot is free */
    struct event *deadline;          /* when the awaited request is overdue */
    long long waiting_since_ms;      /* accepted, or last reply written */
    long long first_byte_ms;         /* first byte of the awaited request; 0: none */
    bool reading;                    /* a request is awaited */
    bool served;                     /* at least one reply was written */
    bool over;                       /* accepted over max_connections */
    bool over_address;               /* accepted over max_per_address */
    char *address;                   /* the peer's key in per_address; NULL: not counted */
    void (*on_close)(void *arg);     /* the stream's close notification */
    void *close_arg;
    struct event *read_hold;         /* keeps the socket's read interest, see hold_read */
};

/* The connection table of one HTTP server. */
struct http_conns {
    struct event_base *base;
    struct metrics *metrics; /* where the open and refused counts go */
    struct conn_slot *slots; /* indexed by fd */
    size_t nslots;
    struct http_conns_limits limits;
    size_t open;             /* slots in use */
    struct addr_slots *per_address; /* connections per peer address */
    unsigned long long refused; /* accepted over the limit */
};

/* A new connection's bufferevent, until adopt() has looked at it. */
struct adoption {
    struct http_conns *t;
    struct bufferevent *bev;
};

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fd_of(struct evhttp_connection *evcon) {
    struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
    return bev ? (int)bufferevent_getfd(bev) : -1;
}

static struct conn_slot *slot_of(struct http_conns *t, struct evhttp_connection *evcon) {
    int fd = evcon ? fd_of(evcon) : -1;
    if (fd < 0 || (size_t)fd >= t->nslots || t->slots[fd].evcon != evcon) return NULL;
    return &t->slots[fd];
}

static void publish(struct http_conns *t) {
    metrics_connections(t->metrics, (long)t->open, t->refused);
}

static void slot_release(struct conn_slot *s) {
    struct http_conns *t = s->t;
    if (s->address) addr_slots_release(t->per_address, s->address);
    free(s->address);
    if (s->deadline) event_free(s->deadline);
    if (s->read_hold) event_free(s->read_hold);
    memset(s, 0, sizeof(*s));
    s->t = t;
    t->open--;
    publish(t);
}

/* Cuts a connection: evhttp then reads the end of input and frees it. */
static void cut(const struct conn_slot *s, const char *why) {
    int fd = (int)(s - s->t->slots);
    log_debug("msg=\"connection cut\" fd=%d why=%s", fd, why);
    shutdown(fd, SHUT_RDWR);
}

static void arm(struct conn_slot *s, long long in_ms) {
    struct timeval tv = {(time_t)(in_ms / 1000), (suseconds_t)(in_ms % 1000) * 1000};
    event_add(s->deadline, &tv);
}

/* The awaited request is due: cut the connection, or wait the rest. */
static void on_deadline(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct conn_slot *s = arg;
    if (!s->reading) return;
    long long now = now_ms(), since = s->first_byte_ms ? s->first_byte_ms : s->waiting_since_ms;
    const struct http_conns_limits *limits = &s->t->limits;
    long long limit = s->first_byte_ms ? limits->request_timeout_ms
                      : s->served      ? limits->idle_timeout_ms
                                       : limits->first_timeout_ms;
    if (now - since >= limit)
        cut(s, s->first_byte_ms ? "request-timeout" : "idle-timeout");
    else
        arm(s, limit - (now - since));
}

/*
 * Read interest across a request. evhttp stops reading once a request is in
 * and reads again when the reply starts: without help that is an epoll_ctl
 * to remove the socket and another to add it back, for every request. While
 * a request is being read, a second read event on the socket (read_hold) is
 * added; libevent keeps a socket registered with the kernel as long as any
 * event wants it, so evhttp's two changes then cost no system call. The
 * hold is let go when the reply has been written (evhttp reads again by
 * then), or at once when the socket becomes readable while evhttp does not
 * read (a pipelined request or the client's close: the case without hold).
 */
static void on_read_hold(evutil_socket_t fd, short what, void *arg) {
    (void)what;
    struct conn_slot *s = arg;
    event_del(s->read_hold);
    /* The end of input while a request is served and someone waits for the
     * client's close: evhttp would notice only when it writes the reply. */
    char byte;
    if (s->on_close && !s->reading && recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0) {
        void (*fn)(void *) = s->on_close;
        s->on_close = NULL;
        fn(s->close_arg);
    }
}

static void hold_read(struct conn_slot *s) {
    if (s->read_hold && !event_pending(s->read_hold, EV_READ, NULL)) event_add(s->read_hold, NULL);
}

/* Notes the first byte of an awaited request. */
static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg) {
    (void)buf;
    struct conn_slot *s = arg;
    if (info->n_added == 0) return;
    hold_read(s); /* evhttp reads the socket now: adding the hold costs nothing */
    if (!s->reading || s->first_byte_ms) return;
    s->first_byte_ms = now_ms();
    arm(s, s->t->limits.request_timeout_ms);
}

static void on_closed(struct evhttp_connection *evcon, void *arg) {
    struct conn_slot *s = slot_of(arg, evcon);
    if (!s) return;
    void (*fn)(void *) = s->on_close;
    void *fn_arg = s->close_arg;
    slot_release(s);
    if (fn) fn(fn_arg);
}

/* Watches what evhttp writes to a connection for its own 413 page, which
 * it writes while a request is still being read (before chatd's handler). */
static void on_output(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg) {
    struct conn_slot *s = arg;
    if (!s->reading) return; /* chatd's own replies */
    struct bufferevent *bev = s->evcon ? evhttp_connection_get_bufferevent(s->evcon) : NULL;
    if (!bev || bufferevent_get_output(bev) != buf) return; /* the slot went to another */
    if (http_refusal_replace(buf, info, bev, s->t)) evbuffer_remove_cb(buf, on_output, arg);
}

/* Counts the connection against its peer's address, unless the peer is a
 * trusted proxy or there is no cap; marks it when the address is full. */
static void count_peer(struct conn_slot *s, int fd) {
    struct http_conns *t = s->t;
    struct sockaddr_storage ss = {.ss_family = AF_UNSPEC};
    socklen_t len = sizeof(ss);
    char peer[CLIENT_ADDR_MAX], text[CLIENT_ADDR_MAX], key[CLIENT_ADDR_MAX];
    const void *bin = &((struct sockaddr_in *)&ss)->sin_addr;
    if (!t->limits.max_per_address || getpeername(fd, (struct sockaddr *)&ss, &len) < 0) return;
    if (ss.ss_family == AF_INET6) bin = &((struct sockaddr_in6 *)&ss)->sin6_addr;
    else if (ss.ss_family != AF_INET) return;
    if (!inet_ntop(ss.ss_family, bin, text, sizeof(text))) return;
    client_addr_normalise(text, peer, sizeof(peer));
    if (client_addr_listed(peer, t->limits.trusted)) return;
    client_addr_limit_key(peer, key, sizeof(key));
    if (!addr_slots_take(t->per_address, key)) s->over_address = true;
    else if (!(s->address = strdup(key))) addr_slots_release(t->per_address, key);
}

/* Runs right after evhttp has set a new connection up around bev. */
static void adopt(evutil_socket_t unused, short what, void *arg) {
    (void)unused, (void)what;
    struct adoption *a = arg;
    struct http_conns *t = a->t;
    struct bufferevent *bev = a->bev;
    free(a);
    bufferevent_event_cb errorcb = NULL;
    void *cbarg = NULL;
    bufferevent_getcb(bev, NULL, NULL, &errorcb, &cbarg);
    int fd = (int)bufferevent_getfd(bev);
    struct evhttp_connection *evcon = cbarg;
    if (errorcb && evcon && fd >= 0 && (size_t)fd < t->nslots) { /* else gone, or untracked */
        struct conn_slot *s = &t->slots[fd];
        if (s->evcon) { /* its close went unnoticed; the fd is reused */
            bool held = s->read_hold && event_pending(s->read_hold, EV_READ, NULL);
            slot_release(s);
            /* that hold made libevent skip registering the new socket */
            if (held && (bufferevent_get_enabled(bev) & EV_READ)) {
                bufferevent_disable(bev, EV_READ);
                bufferevent_enable(bev, EV_READ);
            }
        }
        s->deadline = evtimer_new(t->base, on_deadline, s);
        if (s->deadline) {
            /* NULL when out of memory: the connection works without */
            s->read_hold = event_new(t->base, fd, EV_READ | EV_PERSIST, on_read_hold, s);
            s->evcon = evcon;
            s->reading = true;
            s->waiting_since_ms = now_ms();
            t->open++;
            evhttp_connection_set_closecb(evcon, on_closed, t);
            evbuffer_add_cb(bufferevent_get_input(bev), on_input, s);
            /* without it, evhttp's own 413 page goes out */
            evbuffer_add_cb(bufferevent_get_output(bev), on_output, s);
            arm(s, t->limits.first_timeout_ms);
            count_peer(s, fd);
            if (t->open > (size_t)t->limits.max_connections) {
                s->over = true;
                t->refused++;
                if (t->open > (size_t)t->limits.max_connections + CONNS_RESERVE)
                    cut(s, "over-limit");
            }
            publish(t);
        }
    }
    bufferevent_decref(bev);
}

/* evhttp asks for a new connection's bufferevent (socket set later). */
static struct bufferevent *make_bev(struct event_base *base, void *arg) {
    struct bufferevent *bev = bufferevent_socket_new(base, -1, 0);
    if (!bev) return NULL;
    struct adoption *a = malloc(sizeof(*a));
    if (!a) return bev; /* the connection works, untracked */
    *a = (struct adoption){arg, bev};
    bufferevent_incref(bev); /* kept alive until adopt() has looked at it */
    if (event_base_once(base, -1, EV_TIMEOUT, adopt, a, NULL) < 0) {
        bufferevent_decref(bev);
        free(a);
    }
    return bev;
}

struct http_conns *http_conns_new(struct event_base *base, struct evhttp *http, size_t max_fds,
                                  const struct http_conns_limits *limits,
                                  struct metrics *metrics) {
    struct http_conns *t = calloc(1, sizeof(*t));
    if (!t || !(t->slots = calloc(max_fds, sizeof(*t->slots))) ||
        !(t->per_address = addr_slots_new(limits->max_per_address))) {
        if (t) free(t->slots);
        free(t);
        return NULL;
    }
    for (size_t i = 0; i < max_fds; i++) t->slots[i].t = t;
    t->nslots = max_fds;
    t->base = base;
    t->limits = *limits;
    t->metrics = metrics;
    evhttp_set_bevcb(http, make_bev, t);
    return t;
}

void http_conns_free(struct http_conns *t) {
    if (!t) return;
    for (size_t i = 0; i < t->nslots; i++) {
        if (t->slots[i].deadline) event_free(t->slots[i].deadline);
        if (t->slots[i].read_hold) event_free(t->slots[i].read_hold);
        free(t->slots[i].address);
    }
    free(t->slots);
    addr_slots_free(t->per_address);
    free(t);
}

enum http_conns_verdict http_conns_request_read(struct http_conns *t,
                                                struct evhttp_connection *evcon) {
    struct conn_slot *s = slot_of(t, evcon);
    if (!s) return HTTP_CONNS_OK;
    s->reading = false;
    s->first_byte_ms = 0;
    event_del(s->deadline);
    return s->over ? HTTP_CONNS_OVER_TOTAL : s->over_address ? HTTP_CONNS_OVER_ADDRESS : HTTP_CONNS_OK;
}

void http_conns_reply_done(struct http_conns *t, struct evhttp_connection *evcon) {
    struct conn_slot *s = slot_of(t, evcon);
    if (!s) return;
    struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
    if (s->read_hold) event_del(s->read_hold); /* evhttp reads again: no system call */
    s->reading = true;
    s->served = true;
    s->waiting_since_ms = now_ms();
    /* a pipelined next request may be there already */
    s->first_byte_ms = evbuffer_get_length(bufferevent_get_input(bev)) ? s->waiting_since_ms : 0;
    arm(s, s->first_byte_ms ? t->limits.request_timeout_ms : t->limits.idle_timeout_ms);
}

bool http_conns_on_close(struct http_conns *t, struct evhttp_connection *evcon,
                         void (*fn)(void *arg), void *arg) {
    struct conn_slot *s = slot_of(t, evcon);
    if (!s) return false;
    s->on_close = fn;
    s->close_arg = arg;
    return true;
}

void http_conns_drop_read_hold(struct http_conns *t, struct evhttp_connection *evcon) {
    struct conn_slot *s = slot_of(t, evcon);
    if (s && s->read_hold) event_del(s->read_hold);
}

void http_conns_detached_opened(struct http_conns *t) {
    t->open++;
    publish(t);
}

void http_conns_detached_closed(struct http_conns *t) {
    t->open--;
    publish(t);
}

