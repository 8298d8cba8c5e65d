/* http: evhttp glue, routing and reply helpers, see http.h. */
#include "http.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http_struct.h> /* the request's HTTP version, which 2.1 has no getter for */
#include <event2/listener.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/queue.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>

#include "client_addr.h"
#include "http_conns.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "numfmt.h"
#include "origin.h"
#include "server.h"
#include "stream_sock.h"

/* Bodies up to this many times the configured limit are read and refused by
 * us with a JSON 413; larger ones are refused by evhttp before reading. */
#define HTTP_BODY_READ_FACTOR 4
/* A request line and headers up to HTTP_MAX_HEADERS bytes are served; up to
 * HTTP_READ_HEADERS they are read and answered 431 in JSON; beyond that
 * evhttp refuses them itself (400, HTML) and closes the connection. */
#define HTTP_MAX_HEADERS 16384
#define HTTP_READ_HEADERS 65536
#define HTTP_IO_TIMEOUT_S 60
#define HTTP_FD_RESERVE 128     /* descriptors kept for Redis, logs and the listener */
#define HTTP_ACCEPT_PAUSE_MS 100 /* out of descriptors: stop accepting this long */

/* What the HTTP layer keeps between requests: one per server
 * (srv->http_state), from http_start to http_stop. */
struct http_state {
    struct server *srv;                   /* handed to every request */
    const struct route *routes;           /* the routing table */
    size_t nroutes;
    struct evhttp_bound_socket *listener; /* NULL once accepting stopped */
    struct event *accept_pause;           /* re-enables accepting after running out of fds */
    size_t inflight;                      /* requests not yet answered */
    size_t unflushed;                     /* answered, not yet written out */
    struct request *open_streams;         /* head of the list of streaming requests */
    struct http_conns *conns;             /* the client connections (http_conns.h) */
    struct stream_socks *socks;           /* streams served without evhttp (stream_sock.h) */
    time_t date_made;                     /* the second date_text was made for */
    char date_text[40];                   /* the Date header's value */
};

/* The state whose pause timer the listener's error callback starts: libevent
 * 2.1 calls that callback with evhttp's argument (evhttp_bind_listener takes
 * the listener's), so it cannot be handed the state. Set while listening. */
static struct http_state *accept_error_owner;

static int listen_on(struct http_state *st);

static void on_reply_sent(struct evhttp_request *ev, void *arg) {
    struct http_state *st = arg;
    st->unflushed--;
    http_conns_reply_done(st->conns, evhttp_request_get_connection(ev));
}

/* The connection table of the server r arrived at. */
static struct http_conns *conns_of(const struct request *r) { return r->srv->http_state->conns; }

/* Counts a reply until evhttp has written it out (a reply to a client that
 * is already gone is not counted: nothing will be written). */
static void track_flush(struct request *r) {
    if (!evhttp_request_get_connection(r->ev)) return;
    evhttp_request_set_on_complete_cb(r->ev, on_reply_sent, r->srv->http_state);
    r->srv->http_state->unflushed++;
}

static void stream_link(struct request *r) {
    struct http_state *st = r->srv->http_state;
    r->stream_next = st->open_streams;
    if (st->open_streams) st->open_streams->stream_prev = r;
    st->open_streams = r;
}

static void stream_unlink(struct request *r) {
    struct http_state *st = r->srv->http_state;
    if (r->stream_prev) r->stream_prev->stream_next = r->stream_next;
    else if (st->open_streams == r) st->open_streams = r->stream_next;
    if (r->stream_next) r->stream_next->stream_prev = r->stream_prev;
}

static long long now_us(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

long long http_received_ms(const struct request *r) { return r->start_us / 1000; }

static const char *reason_of(int status) {
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
    }
}

static const char *method_name(enum evhttp_cmd_type m) {
    switch (m) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH: return "PATCH";
    }
    return "OTHER";
}

/* Copies s into out (size bytes), replacing what would break a logfmt value. */
static void copy_printable(char *out, size_t size, const char *s) {
    size_t i = 0;
    for (; s[i] && i + 1 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        bool plain = c > 0x20 && c < 0x7F && c != '"' && c != '\\';
        out[i] = s[i];
        if (!plain) out[i] = '?';
    }
    out[i] = '\0';
}

static bool is_id_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.';
}

/* Takes the client's X-Request-Id when it is short and plain, else makes one
 * ("%08x-%llx" of the process's random base and a counter). */
static void assign_request_id(struct request *r, const char *given) {
    size_t len = given ? strlen(given) : 0;
    bool ok = len > 0 && len < sizeof(r->id);
    for (size_t i = 0; ok && i < len; i++) ok = is_id_char((unsigned char)given[i]);
    if (ok) {
        memcpy(r->id, given, len + 1);
        return;
    }
    char made[2 * NUMFMT_MAX], *end = numfmt_hex(made, r->srv->request_id_base, 8);
    *end++ = '-';
    end = numfmt_hex(end, ++r->srv->requests, 1);
    len = (size_t)(end - made) < sizeof(r->id) ? (size_t)(end - made) : sizeof(r->id) - 1;
    memcpy(r->id, made, len);
    r->id[len] = '\0';
}

static void request_free(struct request *r, int status) {
    r->srv->http_state->inflight--;
    double dur_ms = (double)(now_us() - r->start_us) / 1000.0;
    /* a load balancer checks every second: successful checks only at debug */
    bool check = status == 200 && (strcmp(r->route, "/ready") == 0 || strcmp(r->route, "/health") == 0);
    log_at(check ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO,
           "req=%s method=%s path=\"%s\" status=%d dur_ms=%.2f", r->id, r->method, r->path,
           status, dur_ms);
    metrics_observe_request(r->srv->metrics, r->route, r->method, status, dur_ms);
    evhttp_clear_headers(&r->query);
    free(r);
}

const char *http_header(const struct request *r, const char *name) {
    return evhttp_find_header(evhttp_request_get_input_headers(r->ev), name);
}

/* The names of enum http_known, in its order. */
static const struct {
    const char *name;
    size_t len;
} known_names[HTTP_H_COUNT] = {
#define KNOWN(lit) {lit, sizeof(lit) - 1}
    KNOWN("X-Request-Id"), KNOWN("Origin"),        KNOWN("Host"),
    KNOWN("Content-Type"), KNOWN("Cookie"),        KNOWN("Authorization"),
    KNOWN("Idempotency-Key"),
#undef KNOWN
};

const char *http_known_header(const struct request *r, enum http_known h) {
    /* a stream drops its request headers once it has started */
    return r->streaming ? http_header(r, known_names[h].name) : r->known[h];
}

/* Notes the known headers (the first of each name, as evhttp_find_header
 * finds them) and returns the size of the request line and headers, as
 * they came (near enough), in one pass. */
static size_t scan_headers(struct request *r) {
    const char *uri = evhttp_request_get_uri(r->ev);
    size_t n = uri ? strlen(uri) + 16 : 16;
    const struct evkeyval *kv;
    TAILQ_FOREACH(kv, evhttp_request_get_input_headers(r->ev), next) {
        size_t len = strlen(kv->key);
        n += len + strlen(kv->value) + 4;
        for (int i = 0; i < HTTP_H_COUNT; i++) {
            if (known_names[i].len == len && !r->known[i] &&
                evutil_ascii_strcasecmp(kv->key, known_names[i].name) == 0) {
                r->known[i] = kv->value;
                break;
            }
        }
    }
    return n;
}

const char *http_query(const struct request *r, const char *name) {
    return evhttp_find_header(&r->query, name);
}

void http_add_header(struct request *r, const char *name, const char *value) {
    evhttp_add_header(evhttp_request_get_output_headers(r->ev), name, value);
}

static bool is_json_type(const char *ct) {
    static const char want[] = "application/json";
    if (!ct || strncasecmp(ct, want, sizeof(want) - 1) != 0) return false;
    char next = ct[sizeof(want) - 1];
    return next == '\0' || next == ';' || next == ' ';
}

api_error http_body_raw(struct request *r, const char **data, size_t *len) {
    const char *ct = http_known_header(r, HTTP_H_CONTENT_TYPE);
    if (!is_json_type(ct)) return API_E_UNSUPPORTED_MEDIA_TYPE;
    struct evbuffer *body = evhttp_request_get_input_buffer(r->ev);
    *len = evbuffer_get_length(body);
    if (*len > (size_t)r->srv->cfg.max_body) return API_E_BODY_TOO_LARGE;
    *data = *len ? (const char *)evbuffer_pullup(body, -1) : "";
    return *data ? API_E_OK : API_E_INTERNAL;
}

api_error http_body_json(struct request *r, json_t **out) {
    const char *data;
    size_t len;
    api_error e = http_body_raw(r, &data, &len);
    return e == API_E_OK ? json_parse_object(data, len, out) : e;
}

bool http_session_token(const struct request *r, char out[TOKEN_LEN + 1]) {
    return token_from_headers(http_known_header(r, HTTP_H_COOKIE),
                              http_known_header(r, HTTP_H_AUTHORIZATION), out);
}

bool http_forwarded_https(const struct request *r) {
    struct evhttp_connection *evcon = evhttp_request_get_connection(r->ev);
    char *peer = NULL;
    ev_uint16_t port = 0;
    if (evcon) evhttp_connection_get_peer(evcon, &peer, &port);
    return peer && client_addr_forwarded_https(peer, http_header(r, "X-Forwarded-Proto"),
                                               r->srv->cfg.trusted_proxies);
}

/* The Date header's value, as evhttp writes it, made at most once a second. */
static const char *date_now(struct http_state *st) {
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    struct tm tm;
    if (now != st->date_made && gmtime_r(&now, &tm)) {
        snprintf(st->date_text, sizeof(st->date_text), "%s, %02d %s %4d %02d:%02d:%02d GMT",
                 days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], 1900 + tm.tm_year,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
        st->date_made = now;
    }
    return st->date_text;
}

/* Adds the Date and Content-Length headers that evhttp would add to an
 * HTTP/1.1 reply (it adds them only when missing), in the same order but
 * without its printf calls: the date is made once a second. Replies to
 * HTTP/1.0 are left to evhttp's own rules. */
static void add_framing_headers(struct request *r, struct evkeyvalq *h, int status, size_t len) {
    if (r->ev->major != 1 || r->ev->minor < 1) return;
    evhttp_add_header(h, "Date", date_now(r->srv->http_state));
    /* evhttp_response_needs_body() */
    if (status != 204 && status != 304 && (status < 100 || status >= 200) &&
        evhttp_request_get_command(r->ev) != EVHTTP_REQ_HEAD) {
        char text[NUMFMT_MAX + 1];
        *numfmt_unsigned(text, len) = '\0';
        evhttp_add_header(h, "Content-Length", text);
    }
}

static void on_connection_close(void *arg);

void http_on_client_gone(struct request *r, void (*fn)(struct request *r)) {
    struct evhttp_connection *evcon = evhttp_request_get_connection(r->ev);
    if (!evcon || r->streaming) return;
    r->on_close = fn;
    http_conns_on_close(conns_of(r), evcon, on_connection_close, r);
}

void http_reply_typed(struct request *r, int status, const char *content_type,
                      struct evbuffer *body) {
    if (r->on_close) { /* set by http_on_client_gone: the reply ends it */
        struct evhttp_connection *evcon = evhttp_request_get_connection(r->ev);
        if (evcon) http_conns_on_close(conns_of(r), evcon, NULL, NULL);
        r->on_close = NULL;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
    struct evbuffer *out = evhttp_request_get_output_buffer(r->ev);
    if (body) evbuffer_add_buffer(out, body); /* what evhttp_send_reply would do */
    size_t len = evbuffer_get_length(out);
    evhttp_add_header(h, "X-Request-Id", r->id);
    if (!evhttp_find_header(h, "Cache-Control")) evhttp_add_header(h, "Cache-Control", "no-store");
    if (r->srv->draining) evhttp_add_header(h, "Connection", "close");
    if (len) evhttp_add_header(h, "Content-Type", content_type);
    add_framing_headers(r, h, status, len);
    track_flush(r);
    evhttp_send_reply(r->ev, status, reason_of(status), NULL);
    request_free(r, status);
}

struct evbuffer *http_reply_body(struct request *r) {
    return evhttp_request_get_output_buffer(r->ev);
}

void http_reply_buffer(struct request *r, int status, struct evbuffer *body) {
    http_reply_typed(r, status, "application/json; charset=utf-8", body);
}

void http_reply_json(struct request *r, int status, json_t *body) {
    struct evbuffer *buf = evbuffer_new();
    if (!buf || json_append(buf, body) < 0) {
        json_decref(body);
        if (buf) evbuffer_free(buf);
        http_reply_error(r, API_E_INTERNAL, NULL);
        return;
    }
    json_decref(body);
    http_reply_buffer(r, status, buf);
    evbuffer_free(buf);
}

void http_reply_error(struct request *r, api_error e, const char *message) {
    int status = api_error_status(e);
    struct evbuffer *buf = evbuffer_new();
    if (buf) json_error_append(buf, e, message);
    if (status == 401) http_add_header(r, "WWW-Authenticate", "Bearer");
    if (e == API_E_UNAVAILABLE || e == API_E_TOO_MANY_CONNECTIONS || e == API_E_BUSY)
        http_add_header(r, "Retry-After", "1");
    http_reply_buffer(r, status, buf);
    if (buf) evbuffer_free(buf);
}

void http_reply_empty(struct request *r, int status) { http_reply_buffer(r, status, NULL); }

static void on_connection_close(void *arg) {
    struct request *r = arg;
    if (r->on_close) r->on_close(r);
}

/* A stream's headers are written out: keep only what evhttp reads again when
 * the stream ends (whether the connection stays open), to save memory while
 * the stream idles. */
static void stream_trim_headers(struct request *r) {
    struct evkeyvalq *in = evhttp_request_get_input_headers(r->ev);
    const char *conn = evhttp_find_header(in, "Connection");
    char keep[32] = "";
    if (conn) snprintf(keep, sizeof(keep), "%s", conn);
    evhttp_clear_headers(in);
    if (keep[0]) evhttp_add_header(in, "Connection", keep);
    evhttp_clear_headers(evhttp_request_get_output_headers(r->ev));
}

void http_stream_start(struct request *r, int status, const char *content_type) {
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
    evhttp_add_header(h, "X-Request-Id", r->id);
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_add_header(h, "Content-Type", content_type);
    evhttp_send_reply_start(r->ev, status, reason_of(status));
    r->chunked = evhttp_find_header(h, "Transfer-Encoding") != NULL;
    r->bodyless = evhttp_request_get_command(r->ev) == EVHTTP_REQ_HEAD;
    stream_trim_headers(r);
    r->streaming = true;
    stream_link(r);
    metrics_stream_opened(r->srv->metrics);
    struct evhttp_connection *evcon = evhttp_request_get_connection(r->ev);
    if (evcon) http_conns_on_close(conns_of(r), evcon, on_connection_close, r);
}

static void detached_send(struct request *r, struct evbuffer *chunk,
                          stream_sock_drained_fn *drained, void *arg);
static void detached_end(struct request *r);
static void detached_abort(struct request *r);

void http_stream_send(struct request *r, struct evbuffer *chunk,
                      void (*drained)(struct evhttp_connection *, void *), void *arg) {
    if (r->sock) detached_send(r, chunk, drained, arg);
    else evhttp_send_reply_chunk_with_cb(r->ev, chunk, drained, arg);
}

static void detach_close_callback(struct request *r) {
    struct evhttp_connection *evcon = evhttp_request_get_connection(r->ev);
    if (evcon) http_conns_on_close(conns_of(r), evcon, NULL, NULL);
}

void http_stream_end(struct request *r) {
    stream_unlink(r);
    metrics_stream_closed(r->srv->metrics);
    if (r->sock) {
        detached_end(r);
    } else {
        detach_close_callback(r);
        track_flush(r);
        evhttp_send_reply_end(r->ev); /* frees the request when the client is gone */
    }
    request_free(r, 200);
}

size_t http_stream_backlog(struct request *r) {
    if (r->sock) return stream_sock_backlog(r->sock);
    struct evhttp_connection *evcon = evhttp_request_get_connection(r->ev);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    return bev ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}

void http_stream_abort(struct request *r) {
    if (r->streaming) {
        stream_unlink(r);
        metrics_stream_closed(r->srv->metrics);
    }
    struct evhttp_connection *evcon = r->ev ? evhttp_request_get_connection(r->ev) : NULL;
    if (r->sock) {
        detached_abort(r);
    } else if (evcon) {
        http_conns_on_close(conns_of(r), evcon, NULL, NULL);
        evhttp_connection_free(evcon); /* frees r->ev with it */
    } else {
        evhttp_send_reply_end(r->ev); /* the client is gone: this frees it */
    }
    log_warn("req=%s msg=\"stream aborted\"", r->id);
    request_free(r, 200);
}

/* ---- streams served without evhttp once their head is out (stream_sock.h) ---- */

int http_stream_detach(struct request *r) {
    struct evhttp_connection *evcon = r->ev ? evhttp_request_get_connection(r->ev) : NULL;
    struct http_conns *conns = conns_of(r);
    /* only a counted connection: it stays counted while the stream lasts */
    if (!r->streaming || !evcon || !http_conns_on_close(conns, evcon, NULL, NULL)) return -1;
    http_conns_drop_read_hold(conns, evcon); /* else epoll keeps the socket after evhttp lets go */
    struct stream_sock *sock = stream_sock_detach(r->srv->http_state->socks, evcon,
                                                  HTTP_IO_TIMEOUT_S, on_connection_close, r);
    if (!sock) {
        http_conns_on_close(conns, evcon, on_connection_close, r);
        return -1;
    }
    http_conns_detached_opened(conns); /* freeing evcon released its slot */
    r->ev = NULL;                 /* freed with its connection */
    r->sock = sock;
    evhttp_clear_headers(&r->query);
    return 0;
}

int http_stream_upgrade(struct request *r, struct evbuffer *head) {
    struct evhttp_connection *evcon = evhttp_request_get_connection(r->ev);
    if (!evcon) return -1;
    r->streaming = true; /* neither chunked nor bodyless: bytes go out as they are */
    if (http_stream_detach(r) < 0) {
        http_conns_on_close(conns_of(r), evcon, NULL, NULL); /* detach set it */
        r->streaming = false;
        return -1;
    }
    stream_link(r);
    metrics_stream_opened(r->srv->metrics);
    stream_sock_send(r->sock, head, NULL, NULL);
    return 0;
}

void http_stream_set_reader(struct request *r, int (*fn)(void *arg), void *arg) {
    if (r->sock) stream_sock_set_reader(r->sock, fn, arg);
}

ssize_t http_stream_recv(struct request *r, void *buf, size_t len) {
    if (!r->sock) {
        errno = ECONNRESET;
        return -1;
    }
    return stream_sock_recv(r->sock, buf, len);
}

/* Frames the chunk as evhttp would (evhttp sends no body for HEAD). */
static void detached_send(struct request *r, struct evbuffer *chunk,
                          stream_sock_drained_fn *drained, void *arg) {
    size_t len = evbuffer_get_length(chunk);
    if (r->bodyless || len == 0) return;
    if (r->chunked) {
        char head[24];
        int n = snprintf(head, sizeof(head), "%zx\r\n", len);
        evbuffer_prepend(chunk, head, (size_t)n);
        evbuffer_add(chunk, "\r\n", 2);
    }
    stream_sock_send(r->sock, chunk, drained, arg);
}

static void on_detached_closed(void *arg) {
    struct http_state *st = arg;
    st->unflushed--;
    http_conns_detached_closed(st->conns);
}

/* The last chunk (chunked), then the connection closes once written. */
static void detached_end(struct request *r) {
    static const char last_chunk[] = "0\r\n\r\n";
    r->srv->http_state->unflushed++;
    stream_sock_end(r->sock, last_chunk, r->chunked ? sizeof(last_chunk) - 1 : 0,
                    on_detached_closed, r->srv->http_state);
    r->sock = NULL;
}

static void detached_abort(struct request *r) {
    stream_sock_free(r->sock);
    r->sock = NULL;
    http_conns_detached_closed(conns_of(r));
}

/* Whether path[0..len) matches pattern, where a "*" segment matches one
 * non-empty segment, copied to param (size bytes; cut if longer). */
static bool path_matches(const char *pattern, const char *path, size_t len, char *param,
                         size_t size) {
    const char *star = strchr(pattern, '*');
    if (!star) return strlen(pattern) == len && strncmp(pattern, path, len) == 0;
    size_t head = (size_t)(star - pattern), tail = strlen(star + 1);
    if (len < head + 1 + tail || strncmp(pattern, path, head) != 0 ||
        strncmp(star + 1, path + len - tail, tail) != 0)
        return false;
    const char *seg = path + head;
    size_t seg_len = len - head - tail;
    if (memchr(seg, '/', seg_len)) return false;
    snprintf(param, size, "%.*s", (int)seg_len, seg);
    return true;
}

static const struct route *find_route(const struct http_state *st, const char *path,
                                      enum evhttp_cmd_type method, bool *path_known, char *param,
                                      size_t size) {
    size_t len = strlen(path);
    if (len > 1 && path[len - 1] == '/') len--;
    *path_known = false;
    for (size_t i = 0; i < st->nroutes; i++) {
        const struct route *rt = &st->routes[i];
        if (!path_matches(rt->path, path, len, param, size)) continue;
        *path_known = true;
        if (rt->method == method || (method == EVHTTP_REQ_HEAD && rt->method == EVHTTP_REQ_GET))
            return rt;
    }
    return NULL;
}

/* Lists the methods a path accepts, for the Allow header of a 405. */
static void allowed_methods(const struct http_state *st, const char *path, char *out,
                            size_t size) {
    out[0] = '\0';
    char param[72];
    size_t len = strlen(path);
    if (len > 1 && path[len - 1] == '/') len--;
    for (size_t i = 0; i < st->nroutes; i++) {
        const struct route *rt = &st->routes[i];
        if (!path_matches(rt->path, path, len, param, sizeof(param))) continue;
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%s", used ? ", " : "", method_name(rt->method));
    }
}

/* A request that may change something (not GET, HEAD or OPTIONS) and
 * carries an Origin header must come from our own origin: a browser names
 * the page that made it send the request (cross-site request forgery). */
static bool origin_allowed(struct request *r, enum evhttp_cmd_type method) {
    if (method == EVHTTP_REQ_GET || method == EVHTTP_REQ_HEAD || method == EVHTTP_REQ_OPTIONS)
        return true;
    const char *origin = http_known_header(r, HTTP_H_ORIGIN);
    return !origin || origin_matches_host(origin, http_known_header(r, HTTP_H_HOST));
}

static bool is_health_check(const struct route *rt) {
    return strcmp(rt->path, "/health") == 0 || strcmp(rt->path, "/ready") == 0;
}

/* Answers a request on a connection accepted over a limit, and closes it. */
static void refuse_over_limit(struct request *r, enum http_conns_verdict limit) {
    http_add_header(r, "Connection", "close");
    if (limit == HTTP_CONNS_OVER_ADDRESS) {
        http_add_header(r, "Retry-After", "5");
        http_reply_error(r, API_E_TOO_MANY_FROM_ADDRESS, NULL);
    } else {
        http_reply_error(r, API_E_TOO_MANY_CONNECTIONS, NULL);
    }
}

static void on_request(struct evhttp_request *ev, void *arg) {
    struct http_state *st = arg;
    /* the request is in: its connection's deadline is off */
    enum http_conns_verdict limit = http_conns_request_read(st->conns,
                                                            evhttp_request_get_connection(ev));
    struct request *r = calloc(1, sizeof(*r));
    if (!r) {
        evhttp_send_reply(ev, 503, "Service Unavailable", NULL);
        return;
    }
    st->inflight++;
    r->ev = ev;
    r->srv = st->srv;
    r->start_us = now_us();
    r->method = method_name(evhttp_request_get_command(ev));
    r->route = "unmatched";
    TAILQ_INIT(&r->query);
    size_t header_bytes = scan_headers(r);
    assign_request_id(r, http_known_header(r, HTTP_H_X_REQUEST_ID));
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (!path || !*path) path = "/";
    copy_printable(r->path, sizeof(r->path), path);
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    if (query && evhttp_parse_query_str(query, &r->query) < 0) {
        http_reply_error(r, API_E_INVALID_QUERY, "The query string is malformed.");
        return;
    }
    if (header_bytes > HTTP_MAX_HEADERS) {
        http_add_header(r, "Connection", "close");
        http_reply_error(r, API_E_HEADERS_TOO_LARGE, NULL);
        return;
    }
    bool path_known;
    const struct route *rt = find_route(st, path, evhttp_request_get_command(ev), &path_known,
                                        r->param, sizeof(r->param));
    if (rt && limit != HTTP_CONNS_OK && !is_health_check(rt)) {
        /* over --max-connections or the per-address cap: only the balancer's checks are served */
        refuse_over_limit(r, limit);
    } else if (rt) {
        r->route = rt->path;
        if (origin_allowed(r, evhttp_request_get_command(ev))) rt->handler(r);
        else http_reply_error(r, API_E_CROSS_ORIGIN, NULL);
    } else if (path_known) {
        char allow[128];
        allowed_methods(st, path, allow, sizeof(allow));
        http_add_header(r, "Allow", allow);
        http_reply_error(r, API_E_METHOD_NOT_ALLOWED, NULL);
    } else {
        http_reply_error(r, API_E_NOT_FOUND, NULL);
    }
}

/* Connection limits: --max-connections, lowered when the open-file limit
 * cannot hold that many; --request-timeout for each request to arrive, the
 * same for the first byte of a new connection, HTTP_IO_TIMEOUT_S idle
 * between two requests. */
static int start_conns(struct server *srv) {
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) < 0) nofile.rlim_cur = 1024;
    long usable = (long)nofile.rlim_cur - HTTP_FD_RESERVE;
    struct http_conns_limits limits = {.max_connections = srv->cfg.max_connections,
                                       .request_timeout_ms = srv->cfg.request_timeout_ms,
                                       .idle_timeout_ms = HTTP_IO_TIMEOUT_S * 1000,
                                       .first_timeout_ms = srv->cfg.request_timeout_ms,
                                       .max_per_address = srv->cfg.max_connections_per_address,
                                       .trusted = srv->cfg.trusted_proxies};
    if (usable < limits.max_connections) {
        limits.max_connections = usable > 16 ? (int)usable : 16;
        log_warn("msg=\"--max-connections lowered to fit the open-file limit\" "
                 "max_connections=%d nofile=%ld", limits.max_connections, (long)nofile.rlim_cur);
    }
    srv->http_state->conns = http_conns_new(srv->base, srv->http, (size_t)nofile.rlim_cur, &limits,
                                            srv->metrics);
    return srv->http_state->conns ? 0 : -1;
}

int http_start(struct server *srv, const struct route *routes, size_t nroutes) {
    struct http_state *st = calloc(1, sizeof(*st));
    if (!st) return -1;
    *st = (struct http_state){.srv = srv, .routes = routes, .nroutes = nroutes, .date_made = -1};
    srv->http_state = st;
    st->socks = stream_socks_new();
    srv->http = evhttp_new(srv->base);
    if (!st->socks || !srv->http) return -1;
    evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                              EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                              EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH |
                                              EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT);
    evhttp_set_max_body_size(srv->http, (ev_ssize_t)srv->cfg.max_body * HTTP_BODY_READ_FACTOR);
    evhttp_set_max_headers_size(srv->http, HTTP_READ_HEADERS);
    evhttp_set_timeout(srv->http, HTTP_IO_TIMEOUT_S);
    evhttp_set_flags(srv->http, EVHTTP_SERVER_LINGERING_CLOSE);
    evhttp_set_default_content_type(srv->http, "application/json; charset=utf-8");
    evhttp_set_gencb(srv->http, on_request, st);
    if (start_conns(srv) < 0) return -1;
    return listen_on(st);
}

static void on_accept_resume(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct http_state *st = arg;
    if (st->listener) evconnlistener_enable(evhttp_bound_socket_get_listener(st->listener));
}

/* accept() failed: out of descriptors, most likely. Retrying at once would
 * spin, so accepting pauses briefly (clients wait in the backlog). */
static void on_accept_error(struct evconnlistener *l, void *arg) {
    (void)arg;
    int err = EVUTIL_SOCKET_ERROR();
    log_warn("msg=\"accept failed, pausing\" err=\"%s\" pause_ms=%d",
             evutil_socket_error_to_string(err), HTTP_ACCEPT_PAUSE_MS);
    struct timeval tv = {0, HTTP_ACCEPT_PAUSE_MS * 1000};
    struct http_state *st = accept_error_owner;
    if (!st || !st->accept_pause) return;
    evconnlistener_disable(l);
    evtimer_add(st->accept_pause, &tv);
}

/* Binds the listener; with --reuseport other processes may bind it too. */
static int listen_on(struct http_state *st) {
    struct server *srv = st->srv;
    struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                    .ai_flags = EVUTIL_AI_PASSIVE}, *ai = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%d", srv->cfg.port);
    if (evutil_getaddrinfo(srv->cfg.bind, port, &hints, &ai) != 0 || !ai) {
        log_error("msg=\"cannot resolve the bind address\" bind=%s", srv->cfg.bind);
        return -1;
    }
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;
    if (srv->cfg.reuseport) flags |= LEV_OPT_REUSEABLE_PORT;
    struct evconnlistener *l = evconnlistener_new_bind(srv->base, NULL, NULL, flags, 1024,
                                                       ai->ai_addr, (int)ai->ai_addrlen);
    evutil_freeaddrinfo(ai);
    /* Replies go out in several writes (headers, body, chunks); with Nagle's
     * algorithm the last small one waits ~40 ms for the client's delayed ACK.
     * Accepted sockets inherit TCP_NODELAY from the listener on Linux. */
    int one = 1;
    if (l) setsockopt(evconnlistener_get_fd(l), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (!l || !(st->listener = evhttp_bind_listener(srv->http, l))) {
        if (l) evconnlistener_free(l);
        log_error("msg=\"cannot listen\" bind=%s port=%d", srv->cfg.bind, srv->cfg.port);
        return -1;
    }
    st->accept_pause = evtimer_new(srv->base, on_accept_resume, st);
    accept_error_owner = st;
    evconnlistener_set_error_cb(l, on_accept_error);
    return 0;
}

void http_stop_accepting(struct server *srv) {
    struct http_state *st = srv->http_state;
    if (!st) return;
    if (st->accept_pause) event_del(st->accept_pause);
    if (!st->listener) return;
    evhttp_del_accept_socket(srv->http, st->listener);
    st->listener = NULL;
}

size_t http_inflight(const struct server *srv) {
    return srv->http_state ? srv->http_state->inflight : 0;
}

size_t http_unflushed(const struct server *srv) {
    return srv->http_state ? srv->http_state->unflushed : 0;
}

void http_stop(struct server *srv) {
    struct http_state *st = srv->http_state;
    if (!st) return;
    struct request *r = st->open_streams, *next;
    for (; r; r = next) { /* each abort unlinks its own request only */
        next = r->stream_next;
        http_stream_abort(r);
    }
    stream_socks_free(st->socks); /* ended streams still writing */
    if (srv->http) evhttp_free(srv->http);
    srv->http = NULL;
    http_conns_free(st->conns);
    if (st->accept_pause) event_free(st->accept_pause);
    if (accept_error_owner == st) accept_error_owner = NULL;
    free(st);
    srv->http_state = NULL;
}

/* The value of the last X-Forwarded-For header (the one our proxy added). */
static const char *last_forwarded_for(const struct request *r) {
    const struct evkeyvalq *h = evhttp_request_get_input_headers(r->ev);
    const char *last = NULL;
    const struct evkeyval *kv;
    TAILQ_FOREACH(kv, h, next)
        if (strcasecmp(kv->key, "X-Forwarded-For") == 0) last = kv->value;
    return last;
}

void http_client_address(const struct request *r, char out[CLIENT_ADDR_MAX]) {
    struct evhttp_connection *evcon = evhttp_request_get_connection(r->ev);
    char *peer = NULL;
    ev_uint16_t port = 0;
    if (evcon) evhttp_connection_get_peer(evcon, &peer, &port);
    char picked[CLIENT_ADDR_MAX];
    client_addr_pick(peer ? peer : "unknown", last_forwarded_for(r),
                     r->srv->cfg.trusted_proxies, picked, sizeof(picked));
    client_addr_limit_key(picked, out, CLIENT_ADDR_MAX);
}
