/*
 * http_conn: one client connection from accept to close. It reads the
 * client's bytes (stream_sock), parses requests with http-parser, keeps the
 * deadlines of --request-timeout and the idle limit, and hands each complete
 * request to http.c; requests on one connection are served one at a time,
 * in order, and pipelined ones wait in the input. After a request's reply
 * the connection reads the next one (keep-alive) or closes. A connection
 * whose reply is a stream, or that was upgraded to another protocol, keeps
 * only its socket and its request: no parser state and no timer.
 */
#include "http_private.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_conns.h"
#include "log.h"
#include "server.h"
#include "stream_sock.h"

#define READ_CHUNK 16384       /* bytes read from the socket at a time */
#define HELD_INPUT_MAX 65536   /* input read while serving beyond this: reading pauses */
#define ACCEPT_PAUSE_MS 100    /* out of descriptors: stop accepting this long */

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/* ---- deadlines ---- */

static void arm(struct http_conn *c, long long in_ms) {
    if (!c->reading) return;
    if (in_ms < 0) in_ms = 0;
    struct timeval tv = {(time_t)(in_ms / 1000), (suseconds_t)(in_ms % 1000) * 1000};
    event_add(c->reading->deadline, &tv);
}

/* The limit the connection is read under now, from its start. */
static long long reading_limit(const struct http_conn *c, long long *since) {
    *since = c->reading->first_byte_ms ? c->reading->first_byte_ms : c->reading->since_ms;
    if (c->reading->first_byte_ms) return c->st->request_timeout_ms;
    return c->served ? HTTP_IO_TIMEOUT_S * 1000LL : c->st->request_timeout_ms;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct http_conn *c = arg;
    if (c->phase != HTTP_READING) return;
    long long since, limit = reading_limit(c, &since), now = now_ms();
    if (now - since < limit) {
        arm(c, limit - (now - since));
        return;
    }
    log_debug("msg=\"connection cut\" why=%s",
              c->reading->first_byte_ms ? "request-timeout" : "idle-timeout");
    http_conn_close(c);
}

/* The first byte of a request arrived: its whole must follow in time. */
static void note_first_byte(struct http_conn *c) {
    if (c->reading->first_byte_ms) return;
    c->reading->first_byte_ms = now_ms();
    arm(c, c->st->request_timeout_ms);
}

/* ---- closing ---- */

static void unlink_conn(struct http_conn *c) {
    struct http_state *st = c->st;
    if (c->prev) c->prev->next = c->next;
    else if (st->conns_list == c) st->conns_list = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

/* What only reading needs: freed once the connection carries a stream. */
static void reading_free(struct http_conn *c) {
    if (!c->reading) return;
    event_free(c->reading->deadline);
    http_head_free(c->reading->rd.head);
    free(c->reading);
    c->reading = NULL;
}

static void conn_free(struct http_conn *c) {
    unlink_conn(c);
    http_conns_close(c->st->conns, c->address);
    if (c->unflushed) c->st->unflushed--;
    reading_free(c);
    if (c->in) evbuffer_free(c->in);
    free(c);
}

static void on_closed(void *arg) {
    struct http_conn *c = arg;
    c->st->unflushed--;
    conn_free(c);
}

static void close_now(struct http_conn *c) {
    c->phase = HTTP_CLOSING;
    if (c->reading) event_del(c->reading->deadline);
    c->st->unflushed++;
    struct stream_sock *sock = c->sock;
    c->sock = NULL;
    stream_sock_end(sock, NULL, 0, on_closed, c); /* may free c at once */
}

static void abort_now(struct http_conn *c) {
    stream_sock_free(c->sock);
    c->sock = NULL;
    conn_free(c);
}

/* Inside the reader the socket and c must outlive the call: closing waits
 * for the reader's end (on_readable). */
void http_conn_close(struct http_conn *c) {
    if (c->reading_depth > 0) c->pending = HTTP_PENDING_CLOSE;
    else close_now(c);
}

void http_conn_abort(struct http_conn *c) {
    if (c->reading_depth > 0) c->pending = HTTP_PENDING_ABORT;
    else abort_now(c);
}

void http_conn_close_all(struct http_state *st) {
    struct http_conn *next;
    for (struct http_conn *c = st->conns_list; c; c = next) {
        next = c->next; /* each close below frees c alone */
        if (c->phase == HTTP_SERVING || c->phase == HTTP_STREAMING || c->phase == HTTP_UPGRADED)
            http_stream_abort(&c->req); /* frees the request, then c */
        else if (c->phase == HTTP_CLOSING)
            unlink_conn(c); /* the socket set closes it (stream_socks_free) */
        else
            http_conn_abort(c);
    }
}

/* ---- reading ---- */

static bool would_block(void) { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR; }

/* The client went away while a request or a stream is at hand. */
static void tell_request_gone(struct http_conn *c) {
    struct request *r = &c->req;
    void (*fn)(struct request *) = r->on_close;
    if (!r->streaming) r->on_close = NULL; /* a waiting request hears it once */
    if (fn) fn(r);
}

static void on_sock_gone(void *arg) {
    struct http_conn *c = arg;
    c->gone = true;
    if (c->phase == HTTP_READING) http_conn_close(c);
    else if (c->phase != HTTP_CLOSING) tell_request_gone(c);
}

/* Hands a complete request to http.c. */
static void dispatch(struct http_conn *c) {
    c->reading->rd.message_done = false;
    c->keep_alive = http_should_keep_alive(&c->reading->parser) && !c->reading->parser.upgrade;
    c->phase = HTTP_SERVING;
    c->reading->first_byte_ms = 0;
    c->http10 = c->reading->parser.http_minor == 0;
    event_del(c->reading->deadline);
    http_serve(c);
}

/* "100 Continue", once, to a client that waits for it before its body. */
static void answer_expect(struct http_conn *c) {
    static const char go_on[] = "HTTP/1.1 100 Continue\r\n\r\n";
    c->reading->rd.expects_continue = false;
    if (c->reading->rd.message_done || !c->sock) return;
    struct evbuffer *buf = evbuffer_new();
    if (!buf) return;
    evbuffer_add(buf, go_on, sizeof(go_on) - 1);
    stream_sock_write(c->sock, buf, NULL, NULL);
    evbuffer_free(buf);
}

/* Parses len bytes at data; what is left after a complete request (or an
 * upgrade's first bytes) is kept in c->in. */
static void parse(struct http_conn *c, const char *data, size_t len) {
    if (len && !c->reading->parser.upgrade) note_first_byte(c);
    size_t used = http_parser_execute(&c->reading->parser, &c->st->parser_settings, data, len);
    enum http_errno err = HTTP_PARSER_ERRNO(&c->reading->parser);
    if (err == HPE_PAUSED) http_parser_pause(&c->reading->parser, 0);
    if (c->reading->rd.expects_continue) answer_expect(c);
    bool done = c->reading->rd.message_done;
    if ((done || c->reading->parser.upgrade) && used < len) {
        if (!c->in) c->in = evbuffer_new();
        if (!c->in || evbuffer_add(c->in, data + used, len - used) < 0) c->close_after = true;
    }
    if (done) {
        dispatch(c);
    } else if (err != HPE_OK && err != HPE_PAUSED) {
        api_error e = c->reading->rd.refusal;
        if (e == API_E_OK) e = err == HPE_HEADER_OVERFLOW ? API_E_HEADERS_TOO_LARGE : API_E_BAD_REQUEST;
        c->phase = HTTP_SERVING;
        event_del(c->reading->deadline);
        http_refuse(c, e);
    }
}

/* Parses the input kept from earlier reads (a pipelined request). */
static void parse_kept(struct http_conn *c) {
    size_t len = evbuffer_get_length(c->in);
    char *data = malloc(len);
    if (!data) {
        http_conn_close(c);
        return;
    }
    evbuffer_remove(c->in, data, len);
    parse(c, data, len);
    free(data);
}

/* Bytes that arrived while a request is served: kept for later, and
 * reading pauses when too many wait. */
static void keep_input(struct http_conn *c, const char *data, size_t len) {
    if (!c->in) c->in = evbuffer_new();
    if (!c->in || evbuffer_add(c->in, data, len) < 0) {
        c->close_after = true;
        return;
    }
    if (evbuffer_get_length(c->in) > HELD_INPUT_MAX) stream_sock_hold_input(c->sock, true);
}

/* The client's end of input: while a request is served the reply still
 * goes out (a half-closed client reads it), then the connection closes. */
static void input_end(struct http_conn *c) {
    c->input_ended = true;
    stream_sock_hold_input(c->sock, true);
    if (c->phase == HTTP_READING) http_conn_close(c);
    else if (c->phase == HTTP_SERVING) tell_request_gone(c);
    else if (c->phase == HTTP_STREAMING) tell_request_gone(c);
}

static void read_some(struct http_conn *c) {
    char buf[READ_CHUNK];
    if (c->phase == HTTP_READING && c->in && evbuffer_get_length(c->in) > 0) {
        parse_kept(c);
        if (c->phase != HTTP_READING || c->pending) return;
    }
    ssize_t n = stream_sock_recv(c->sock, buf, sizeof(buf));
    if (n < 0 && would_block()) return;
    if (n < 0) {
        c->gone = true;
        if (c->phase == HTTP_READING) http_conn_close(c);
        else tell_request_gone(c);
        return;
    }
    if (n == 0) {
        input_end(c);
        return;
    }
    if (c->phase == HTTP_READING) parse(c, buf, (size_t)n);
    else if (c->phase == HTTP_SERVING) keep_input(c, buf, (size_t)n);
    /* a stream's client has nothing to say: dropped */
}

/* stream_sock's reader for the connection (not for an upgraded one). */
static int on_readable(void *arg) {
    struct http_conn *c = arg;
    c->reading_depth++;
    read_some(c);
    c->reading_depth--;
    enum http_pending pending = c->pending;
    c->pending = HTTP_PENDING_NONE;
    if (pending == HTTP_PENDING_CLOSE) close_now(c);
    else if (pending == HTTP_PENDING_ABORT) abort_now(c);
    return pending == HTTP_PENDING_NONE ? 0 : 1;
}

/* ---- the request's end, streams ---- */

bool http_conn_keeps_going(const struct http_conn *c) {
    return c->keep_alive && !c->close_after && !c->input_ended && !c->gone && c->sock &&
           !c->st->srv->draining && c->verdict == HTTP_CONNS_OK;
}

void http_conn_request_done(struct http_conn *c) {
    c->served = true;
    if (!http_conn_keeps_going(c)) {
        http_conn_close(c);
        return;
    }
    c->phase = HTTP_READING;
    c->reading->since_ms = now_ms();
    stream_sock_hold_input(c->sock, false);
    if (c->in && evbuffer_get_length(c->in) > 0) {
        stream_sock_poke(c->sock); /* the next request is here: parsed from the loop */
        note_first_byte(c);
    } else {
        arm(c, HTTP_IO_TIMEOUT_S * 1000LL);
    }
}

void http_conn_drop_head(struct http_conn *c) {
    if (!c->reading) return;
    http_head_free(c->reading->rd.head);
    c->reading->rd.head = NULL;
}

void http_conn_stream_started(struct http_conn *c, bool upgraded) {
    c->phase = upgraded ? HTTP_UPGRADED : HTTP_STREAMING;
    if (c->reading) event_del(c->reading->deadline);
}

void http_conn_detach(struct http_conn *c, bool upgraded) {
    reading_free(c);
    if (!upgraded && c->in) { /* a lasting stream's client has nothing more to say */
        evbuffer_free(c->in);
        c->in = NULL;
    }
}

static void on_flushed(struct evhttp_connection *unused, void *arg) {
    (void)unused;
    struct http_conn *c = arg;
    if (!c->unflushed) return;
    c->unflushed = false;
    c->st->unflushed--;
}

void http_conn_write(struct http_conn *c, struct evbuffer *buf) {
    if (!c->sock) {
        evbuffer_drain(buf, evbuffer_get_length(buf));
        return;
    }
    if (stream_sock_write(c->sock, buf, on_flushed, c) || c->unflushed) return;
    c->unflushed = true;
    c->st->unflushed++;
}

size_t http_conn_take_input(struct http_conn *c, void *buf, size_t len) {
    if (!c->in) return 0;
    int n = evbuffer_remove(c->in, buf, len);
    if (evbuffer_get_length(c->in) == 0) {
        evbuffer_free(c->in);
        c->in = NULL;
    }
    return n > 0 ? (size_t)n : 0;
}

/* ---- accepting ---- */

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg) {
    (void)l;
    struct http_state *st = arg;
    char *address = NULL;
    enum http_conns_verdict verdict = http_conns_open(st->conns, fd, &address);
    if (verdict == HTTP_CONNS_CUT) {
        close(fd);
        return;
    }
    struct http_conn *c = calloc(1, sizeof(*c));
    struct http_reading *rd = c ? calloc(1, sizeof(*rd)) : NULL;
    if (rd) {
        *c = (struct http_conn){.st = st, .address = address, .verdict = (uint8_t)verdict,
                                .reading = rd};
        rd->since_ms = now_ms();
        if ((size_t)salen <= sizeof(rd->peer)) memcpy(&rd->peer, sa, (size_t)salen);
        rd->deadline = evtimer_new(st->srv->base, on_deadline, c);
        if (rd->deadline)
            c->sock = stream_sock_open(st->socks, st->srv->base, fd, HTTP_IO_TIMEOUT_S,
                                       on_sock_gone, c);
    }
    if (!rd || !c->sock) {
        if (rd && rd->deadline) event_free(rd->deadline);
        free(rd);
        free(c);
        http_conns_close(st->conns, address);
        close(fd);
        return;
    }
    http_parser_init(&rd->parser, HTTP_REQUEST);
    rd->parser.data = &rd->rd;
    rd->rd.body_cap = (size_t)st->srv->cfg.max_body * HTTP_BODY_READ_FACTOR;
    /* control characters in header values are served as before (they are
     * never echoed); framing stays strict (see http_head.c) */
    rd->parser.lenient_http_headers = 1;
    stream_sock_set_reader(c->sock, on_readable, c);
    c->next = st->conns_list;
    if (c->next) c->next->prev = c;
    st->conns_list = c;
    arm(c, st->request_timeout_ms);
}

static void on_accept_resume(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct http_state *st = arg;
    if (st->listener) evconnlistener_enable(st->listener);
}

/* accept() failed: out of descriptors, most likely. Retrying at once would
 * spin, so accepting pauses briefly (clients wait in the backlog). */
static void on_accept_error(struct evconnlistener *l, void *arg) {
    struct http_state *st = arg;
    int err = EVUTIL_SOCKET_ERROR();
    log_warn("msg=\"accept failed, pausing\" err=\"%s\" pause_ms=%d",
             evutil_socket_error_to_string(err), ACCEPT_PAUSE_MS);
    struct timeval tv = {0, ACCEPT_PAUSE_MS * 1000};
    evconnlistener_disable(l);
    evtimer_add(st->accept_pause, &tv);
}

int http_conn_listen(struct http_state *st, struct evconnlistener *l) {
    http_head_settings(&st->parser_settings);
    http_parser_set_max_header_size(HTTP_READ_HEADERS);
    st->accept_pause = evtimer_new(st->srv->base, on_accept_resume, st);
    if (!st->accept_pause) return -1;
    st->listener = l;
    evconnlistener_set_cb(l, on_accept, st);
    evconnlistener_set_error_cb(l, on_accept_error);
    return evconnlistener_enable(l);
}
