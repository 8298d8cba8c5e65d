/* http_refusal: evhttp's own 413 page becomes chatd's JSON error, see http_refusal.h. */
#include "http_refusal.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"
#include "http_conns.h"
#include "json.h"
#include "log.h"

/* The start and the end of the page evhttp writes (evhttp_send_error): its
 * reason phrase differs from chatd's own 413 ("Payload Too Large"). */
static const char page_start[] = "HTTP/1.1 413 Request Entity Too Large\r\n";
static const char page_end[] = "</HTML>\n";
#define PAGE_MAX 1024       /* the page is about 250 bytes */
#define LINGER_IDLE_MS 2000 /* a client silent this long is closed */
#define LINGER_READ 65536

/* True when buf holds want at offset at. It peeks: a socket bufferevent's
 * output is frozen at the front (copying out fails) once it has written. */
static bool has_at(struct evbuffer *buf, size_t at, const char *want, size_t len) {
    struct evbuffer_ptr p;
    struct evbuffer_iovec v[4];
    if (evbuffer_ptr_set(buf, &p, at, EVBUFFER_PTR_SET) < 0) return false;
    int n = evbuffer_peek(buf, (ev_ssize_t)len, &p, v, 4);
    for (int i = 0; i < n && i < 4 && len > 0; i++) {
        size_t k = v[i].iov_len < len ? v[i].iov_len : len;
        if (memcmp(v[i].iov_base, want, k) != 0) return false;
        want += k, len -= k;
    }
    return len == 0;
}

/* Where evhttp's 413 page starts in buf, or -1. The page is written in
 * pieces (the test passes once the last is in), maybe after a "100
 * Continue" not yet sent. */
static ev_ssize_t evhttp_413_at(struct evbuffer *buf) {
    size_t len = evbuffer_get_length(buf);
    if (len < sizeof(page_start) || len > PAGE_MAX ||
        !has_at(buf, len - (sizeof(page_end) - 1), page_end, sizeof(page_end) - 1))
        return -1;
    struct evbuffer_ptr at = evbuffer_search(buf, page_start, sizeof(page_start) - 1, NULL);
    return at.pos;
}

/* A socket kept open after the refusal, read until the client is done. */
struct lingering {
    struct event_base *base;
    struct http_conns *conns; /* counts it as a connection meanwhile */
    evutil_socket_t fd;
};

static void linger_read(evutil_socket_t fd, short what, void *arg);

static void linger_end(struct lingering *l) {
    close(l->fd);
    http_conns_detached_closed(l->conns);
    free(l);
}

/* Waits for more input on a lingering socket; closes it when that fails. */
static void linger_wait(struct lingering *l) {
    struct timeval idle = {LINGER_IDLE_MS / 1000, (LINGER_IDLE_MS % 1000) * 1000};
    if (event_base_once(l->base, l->fd, EV_READ, linger_read, l, &idle) == 0) return;
    linger_end(l);
}

/* Discards what the client sends until its end, an error or silence. */
static void linger_read(evutil_socket_t fd, short what, void *arg) {
    if (what & EV_READ) {
        char scratch[LINGER_READ];
        ssize_t n;
        do n = read(fd, scratch, sizeof(scratch));
        while (n > 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            linger_wait(arg);
            return;
        }
    }
    linger_end(arg);
}

/* Keeps the connection's socket open past evhttp's close (a second
 * descriptor for it) and reads it to the end of the client's input. */
static void linger(struct bufferevent *bev, struct http_conns *conns) {
    evutil_socket_t fd = bufferevent_getfd(bev);
    struct lingering *l = fd >= 0 ? malloc(sizeof(*l)) : NULL;
    if (!l) return; /* evhttp's close then stands: the reply may be lost */
    *l = (struct lingering){bufferevent_get_base(bev), conns, dup(fd)};
    if (l->fd < 0) {
        free(l);
        return;
    }
    http_conns_detached_opened(conns);
    linger_wait(l);
}

/* The same reply as chatd's own 413 (http_reply_error), closing. */
static int json_413(struct evbuffer *out) {
    struct evbuffer *body = evbuffer_new();
    if (!body || json_error_append(body, API_E_BODY_TOO_LARGE, NULL) < 0) {
        if (body) evbuffer_free(body);
        return -1;
    }
    int rc = evbuffer_add_printf(out,
                                 "HTTP/1.1 413 Payload Too Large\r\n"
                                 "Content-Type: application/json; charset=utf-8\r\n"
                                 "Cache-Control: no-store\r\n"
                                 "Connection: close\r\n"
                                 "Content-Length: %zu\r\n\r\n",
                                 evbuffer_get_length(body));
    if (rc >= 0) rc = evbuffer_add_buffer(out, body);
    evbuffer_free(body);
    return rc < 0 ? -1 : 0;
}

bool http_refusal_replace(struct evbuffer *buf, const struct evbuffer_cb_info *info,
                          struct bufferevent *bev, struct http_conns *conns) {
    ev_ssize_t at = info->n_added ? evhttp_413_at(buf) : -1;
    if (at < 0) return false;
    struct evbuffer *reply = evbuffer_new();
    if (!reply || json_413(reply) < 0) {
        if (reply) evbuffer_free(reply);
        return true; /* evhttp's page goes out */
    }
    /* Only the bufferevent takes from the front of its output, unfreezing
     * it for that; so do we, to cut the page (and keep a "100 Continue"
     * before it). */
    char before[PAGE_MAX];
    evbuffer_unfreeze(buf, 1);
    evbuffer_remove(buf, before, (size_t)at);
    evbuffer_drain(buf, evbuffer_get_length(buf));
    evbuffer_freeze(buf, 1);
    evbuffer_add(buf, before, (size_t)at);
    evbuffer_add_buffer(buf, reply);
    evbuffer_free(reply);
    log_info("msg=\"body over the limit refused before reading\" status=413");
    linger(bev, conns);
    return true;
}
