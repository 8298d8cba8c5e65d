/* http: routing, requests and replies over chatd's own connections, see http.h. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/queue.h>
#include <sys/time.h>
#include <time.h>

#include "client_addr.h"
#include "http_conns.h"
#include "http_private.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "numfmt.h"
#include "origin.h"
#include "server.h"
#include "stream_sock.h"

#define HTTP_FD_RESERVE 128 /* descriptors kept for Redis, logs and the listener */

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

/* The path of a request whose own could not be kept, and the segment of
 * a route without "*". */
static char no_path[] = "?";
static char no_param[] = "";

/* Keeps a printable copy of s (at most 127 characters) as r's path. */
static void set_path(struct request *r, const char *s) {
    if (!s) return;
    size_t len = strnlen(s, 127);
    char *copy = malloc(len + 1);
    if (!copy) return;
    copy[0] = '\0';
    copy_printable(copy, len + 1, s);
    r->path = copy;
}

/* Logs and counts the request's end, and frees what it holds; the request
 * itself lives in its connection. */
static void request_finish(struct request *r, int status) {
    r->srv->http_state->inflight--;
    double dur_ms = (double)(now_us() - r->start_us) / 1000.0;
    /* a load balancer checks every second: successful checks only at debug */
    bool check = status == 200 && (strcmp(r->route, "/ready") == 0 || strcmp(r->route, "/health") == 0);
    log_at(check ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO,
           "req=%s method=%s path=\"%s\" status=%d dur_ms=%.2f", r->id, r->method, r->path,
           status, dur_ms);
    metrics_observe_request(r->srv->metrics, r->route, r->method, status, dur_ms);
    evhttp_clear_headers(&r->query);
    if (r->path != no_path) free(r->path);
    if (r->param != no_param) free(r->param);
    r->path = no_path;
    r->param = no_param;
    if (r->headers_out) evbuffer_free(r->headers_out);
    if (r->body_out) evbuffer_free(r->body_out);
    r->headers_out = r->body_out = NULL;
    r->on_close = NULL;
}

/* The request's head, or NULL once a stream let go of it. */
static const struct http_head *head_of(const struct request *r) {
    return r->conn->reading ? r->conn->reading->rd.head : NULL;
}

const char *http_header(const struct request *r, const char *name) {
    const struct http_head *h = head_of(r);
    if (!h) return NULL;
    return http_head_find(h, name);
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

_Static_assert(HTTP_H_COUNT <= HTTP_HEAD_KNOWN, "the head keeps a slot for each known header");

const char *http_known_header(const struct request *r, enum http_known h) {
    const struct http_head *head = head_of(r);
    return head ? head->known[h] : NULL;
}

/* Notes the known headers (the first of each name). */
static void scan_headers(struct http_head *h) {
    for (uint32_t i = 0; i < h->count; i++) {
        if (h->value[i] == UINT32_MAX) continue;
        const char *name = h->bytes + h->name[i];
        size_t len = h->value[i] - h->name[i] - 1;
        for (int k = 0; k < HTTP_H_COUNT; k++) {
            if (known_names[k].len == len && !h->known[k] &&
                strcasecmp(name, known_names[k].name) == 0) {
                h->known[k] = h->bytes + h->value[i];
                break;
            }
        }
    }
}

const char *http_query(const struct request *r, const char *name) {
    return evhttp_find_header(&r->query, name);
}

bool http_is_head(const struct request *r) { return r->cmd == EVHTTP_REQ_HEAD; }

void http_add_header(struct request *r, const char *name, const char *value) {
    if (!r->headers_out && !(r->headers_out = evbuffer_new())) return;
    if (strcasecmp(name, "Cache-Control") == 0) r->has_cache_control = true;
    if (strcasecmp(name, "Content-Length") == 0) r->has_content_length = true;
    if (strcasecmp(name, "Connection") == 0) { /* the reply's own says it */
        if (strcasecmp(value, "close") == 0) r->conn->close_after = true;
        return;
    }
    /* a value must not end the header early: CR and LF become spaces */
    size_t nlen = strlen(name), vlen = strlen(value);
    evbuffer_add(r->headers_out, name, nlen);
    evbuffer_add(r->headers_out, ": ", 2);
    struct evbuffer_iovec v;
    if (evbuffer_reserve_space(r->headers_out, (ev_ssize_t)(vlen + 2), &v, 1) < 1) return;
    char *out = v.iov_base;
    for (size_t i = 0; i < vlen; i++) {
        out[i] = value[i];
        if (value[i] == '\r' || value[i] == '\n') out[i] = ' ';
    }
    out[vlen] = '\r';
    out[vlen + 1] = '\n';
    v.iov_len = vlen + 2;
    evbuffer_commit_space(r->headers_out, &v, 1);
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
    const struct http_head *h = head_of(r);
    *len = h ? h->body_len : 0;
    if (*len > (size_t)r->srv->cfg.max_body) return API_E_BODY_TOO_LARGE;
    *data = *len ? h->body : "";
    return API_E_OK;
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


/* The peer's address as text, or "" when it has none (not an IP socket,
 * or a lasting stream, which no longer keeps it). */
static void peer_text(const struct http_conn *c, char out[CLIENT_ADDR_MAX]) {
    const void *bin = NULL;
    const struct http_reading *rd = c->reading;
    if (rd && rd->peer.sa.sa_family == AF_INET) bin = &rd->peer.v4.sin_addr;
    else if (rd && rd->peer.sa.sa_family == AF_INET6) bin = &rd->peer.v6.sin6_addr;
    if (!bin || !inet_ntop(rd->peer.sa.sa_family, bin, out, CLIENT_ADDR_MAX)) out[0] = '\0';
}

bool http_forwarded_https(const struct request *r) {
    char peer[CLIENT_ADDR_MAX];
    peer_text(r->conn, peer);
    return peer[0] && client_addr_forwarded_https(peer, http_header(r, "X-Forwarded-Proto"),
                                                  r->srv->cfg.trusted_proxies);
}

/* Adds the Date header's value, made at most once a second. */
static void add_date(struct http_state *st, struct evbuffer *out) {
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    struct tm tm;
    if (now != st->date_made && gmtime_r(&now, &tm)) {
        snprintf(st->date_text, sizeof(st->date_text), "Date: %s, %02d %s %4d %02d:%02d:%02d GMT\r\n",
                 days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], 1900 + tm.tm_year,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
        st->date_made = now;
    }
    evbuffer_add(out, st->date_text, strlen(st->date_text));
}

static void add_line(struct evbuffer *out, const char *name, const char *value) {
    evbuffer_add(out, name, strlen(name));
    evbuffer_add(out, ": ", 2);
    evbuffer_add(out, value, strlen(value));
    evbuffer_add(out, "\r\n", 2);
}

/* How a reply's body is delimited. */
enum framing { FRAMED_BY_LENGTH, FRAMED_BY_CHUNKS, FRAMED_BY_CLOSE };

/* The status line and the headers of r's reply, up to the blank line. */
static void put_head(struct request *r, struct evbuffer *out, int status, const char *content_type,
                     enum framing framing, size_t len) {
    struct http_conn *c = r->conn;
    char line[64] = "HTTP/1.1 ", *end = numfmt_unsigned(line + 9, (unsigned)status);
    const char *reason = reason_of(status);
    size_t reason_len = strlen(reason);
    *end++ = ' ';
    memcpy(end, reason, reason_len);
    end += reason_len;
    *end++ = '\r';
    *end++ = '\n';
    evbuffer_add(out, line, (size_t)(end - line));
    add_date(c->st, out);
    bool has_body = status != 204 && status != 304 && status >= 200;
    if (framing == FRAMED_BY_LENGTH && has_body && !http_is_head(r) && !r->has_content_length) {
        char text[NUMFMT_MAX + 1];
        *numfmt_unsigned(text, len) = '\0';
        add_line(out, "Content-Length", text);
    }
    if (framing == FRAMED_BY_CHUNKS) add_line(out, "Transfer-Encoding", "chunked");
    if (content_type && (len || framing != FRAMED_BY_LENGTH)) add_line(out, "Content-Type", content_type);
    add_line(out, "X-Request-Id", r->id);
    if (!r->has_cache_control) add_line(out, "Cache-Control", "no-store");
    bool going_on = framing != FRAMED_BY_CLOSE && http_conn_keeps_going(c);
    if (!going_on) {
        c->close_after = true;
        add_line(out, "Connection", "close");
    } else if (c->http10) {
        add_line(out, "Connection", "keep-alive");
    }
    if (r->headers_out) evbuffer_add_buffer(out, r->headers_out);
    evbuffer_add(out, "\r\n", 2);
}

void http_on_client_gone(struct request *r, void (*fn)(struct request *r)) {
    if (r->streaming || r->conn->gone || r->conn->input_ended) return;
    r->on_close = fn;
}

void http_reply_typed(struct request *r, int status, const char *content_type,
                      struct evbuffer *body) {
    struct http_conn *c = r->conn;
    r->on_close = NULL; /* set by http_on_client_gone: the reply ends it */
    struct evbuffer *out = evbuffer_new();
    if (!out) {
        request_finish(r, status);
        http_conn_abort(c);
        return;
    }
    if (body) {
        if (!r->body_out) r->body_out = evbuffer_new();
        if (r->body_out) evbuffer_add_buffer(r->body_out, body);
    }
    size_t len = r->body_out ? evbuffer_get_length(r->body_out) : 0;
    put_head(r, out, status, content_type, FRAMED_BY_LENGTH, len);
    if (len && !http_is_head(r)) evbuffer_add_buffer(out, r->body_out);
    http_conn_write(c, out);
    evbuffer_free(out);
    request_finish(r, status);
    http_conn_request_done(c);
}

struct evbuffer *http_reply_body(struct request *r) {
    if (!r->body_out) r->body_out = evbuffer_new();
    return r->body_out;
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

/* r's reply is a stream from now on (upgraded: another protocol's bytes). */
static void stream_begin(struct request *r, bool upgraded) {
    r->streaming = true;
    r->sock = r->conn->sock;
    metrics_stream_opened(r->srv->metrics);
    http_conn_stream_started(r->conn, upgraded);
}

/* The stream lasts: the connection closes when it ends (see http_stream_detach). */
static void stream_detach(struct request *r, bool upgraded) {
    r->detached = true;
    evhttp_clear_headers(&r->query);
    http_conn_detach(r->conn, upgraded);
}

void http_stream_start(struct request *r, int status, const char *content_type) {
    struct http_conn *c = r->conn;
    r->bodyless = http_is_head(r);
    r->chunked = !r->bodyless && !c->http10;
    struct evbuffer *out = evbuffer_new();
    if (out) {
        put_head(r, out, status, content_type,
                 r->chunked ? FRAMED_BY_CHUNKS : r->bodyless ? FRAMED_BY_LENGTH : FRAMED_BY_CLOSE,
                 0);
        http_conn_write(c, out);
        evbuffer_free(out);
    }
    if (r->headers_out) evbuffer_free(r->headers_out);
    r->headers_out = NULL;
    stream_begin(r, false);
}

void http_stream_send(struct request *r, struct evbuffer *chunk,
                      void (*drained)(struct evhttp_connection *, void *), void *arg) {
    size_t len = evbuffer_get_length(chunk);
    if (!r->sock || r->bodyless || len == 0) return;
    if (r->chunked) {
        char head[24];
        int n = snprintf(head, sizeof(head), "%zx\r\n", len);
        evbuffer_prepend(chunk, head, (size_t)n);
        evbuffer_add(chunk, "\r\n", 2);
    }
    stream_sock_send(r->sock, chunk, drained, arg);
}

/* A stream is over: counted no more, and its request ends. */
static void stream_over(struct request *r) {
    if (r->streaming) metrics_stream_closed(r->srv->metrics);
    r->streaming = false;
    r->sock = NULL;
}

void http_stream_end(struct request *r) {
    static const char last_chunk[] = "0\r\n\r\n";
    struct http_conn *c = r->conn;
    if (r->chunked && c->sock) {
        struct evbuffer *tail = evbuffer_new();
        if (tail && evbuffer_add(tail, last_chunk, sizeof(last_chunk) - 1) == 0)
            http_conn_write(c, tail);
        if (tail) evbuffer_free(tail);
    }
    bool detached = r->detached;
    stream_over(r);
    request_finish(r, 200);
    if (detached) http_conn_close(c);
    else http_conn_request_done(c);
}

size_t http_stream_backlog(struct request *r) { return r->sock ? stream_sock_backlog(r->sock) : 0; }

void http_stream_abort(struct request *r) {
    struct http_conn *c = r->conn;
    if (r->streaming) log_warn("req=%s msg=\"stream aborted\"", r->id);
    stream_over(r);
    request_finish(r, 200);
    http_conn_abort(c);
}

int http_stream_detach(struct request *r) {
    stream_detach(r, false);
    return 0;
}

int http_stream_upgrade(struct request *r, struct evbuffer *head) {
    struct http_conn *c = r->conn;
    if (!c->sock || c->gone) return -1;
    r->on_close = NULL;
    stream_begin(r, true); /* neither chunked nor bodyless: bytes go out as they are */
    stream_detach(r, true);
    http_conn_write(c, head);
    return 0;
}

void http_stream_set_reader(struct request *r, int (*fn)(void *arg), void *arg) {
    if (!r->sock) return;
    stream_sock_set_reader(r->sock, fn, arg);
    if (fn && r->conn->in) stream_sock_poke(r->sock); /* bytes came with the upgrade */
}

ssize_t http_stream_recv(struct request *r, void *buf, size_t len) {
    if (!r->sock) {
        errno = ECONNRESET;
        return -1;
    }
    size_t kept = http_conn_take_input(r->conn, buf, len);
    if (kept) return (ssize_t)kept;
    return stream_sock_recv(r->sock, buf, len);
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
    r->conn->close_after = true;
    if (limit == HTTP_CONNS_OVER_ADDRESS) {
        http_add_header(r, "Retry-After", "5");
        http_reply_error(r, API_E_TOO_MANY_FROM_ADDRESS, NULL);
    } else {
        http_reply_error(r, API_E_TOO_MANY_CONNECTIONS, NULL);
    }
}

static enum evhttp_cmd_type cmd_of(unsigned method) {
    switch (method) {
    case HTTP_GET: return EVHTTP_REQ_GET;
    case HTTP_POST: return EVHTTP_REQ_POST;
    case HTTP_HEAD: return EVHTTP_REQ_HEAD;
    case HTTP_PUT: return EVHTTP_REQ_PUT;
    case HTTP_DELETE: return EVHTTP_REQ_DELETE;
    case HTTP_OPTIONS: return EVHTTP_REQ_OPTIONS;
    case HTTP_TRACE: return EVHTTP_REQ_TRACE;
    case HTTP_CONNECT: return EVHTTP_REQ_CONNECT;
    case HTTP_PATCH: return EVHTTP_REQ_PATCH;
    default: return (enum evhttp_cmd_type)0;
    }
}

/* Sets up c's request for http_serve and http_refuse. */
static struct request *request_begin(struct http_conn *c) {
    struct request *r = &c->req;
    *r = (struct request){.conn = c, .srv = c->st->srv, .start_us = now_us(), .route = "unmatched",
                          .path = no_path, .param = no_param};
    TAILQ_INIT(&r->query);
    c->st->inflight++;
    unsigned method = c->reading->parser.method;
    r->cmd = cmd_of(method);
    r->method = r->cmd ? method_name(r->cmd) : http_method_str((enum http_method)method);
    return r;
}

/* Splits the URL (NUL-terminated in place) into r's path (returned) and
 * query; NULL when the URL is malformed. */
static const char *split_url(struct request *r, char *url, size_t len, bool *query_ok) {
    struct http_parser_url u;
    http_parser_url_init(&u);
    *query_ok = true;
    if (http_parser_parse_url(url, len, r->cmd == EVHTTP_REQ_CONNECT, &u) != 0) return NULL;
    char *path = "/";
    if (u.field_set & (1 << UF_QUERY)) {
        char *query = url + u.field_data[UF_QUERY].off;
        query[u.field_data[UF_QUERY].len] = '\0';
        *query_ok = evhttp_parse_query_str(query, &r->query) == 0;
    }
    if (u.field_set & (1 << UF_PATH)) {
        path = url + u.field_data[UF_PATH].off;
        path[u.field_data[UF_PATH].len] = '\0';
    }
    return path;
}

void http_serve(struct http_conn *c) {
    struct http_state *st = c->st;
    struct request *r = request_begin(c);
    struct http_head *h = c->reading->rd.head;
    scan_headers(h);
    assign_request_id(r, http_known_header(r, HTTP_H_X_REQUEST_ID));
    bool query_ok;
    const char *path = split_url(r, h->bytes, h->url_end, &query_ok);
    if (!path) {
        set_path(r, h->bytes);
        c->close_after = true;
        http_reply_error(r, API_E_BAD_REQUEST, "The request target is malformed.");
        return;
    }
    set_path(r, path);
    if (!query_ok) {
        http_reply_error(r, API_E_INVALID_QUERY, "The query string is malformed.");
        return;
    }
    bool path_known;
    char param[72] = "";
    const struct route *rt = find_route(st, path, r->cmd, &path_known, param, sizeof(param));
    if (param[0] && rt) r->param = strdup(param);
    if (!r->param) {
        r->param = no_param;
        rt = NULL; /* out of memory: answered as an unknown path */
        path_known = false;
    }
    enum http_conns_verdict limit = c->verdict;
    if (rt && limit != HTTP_CONNS_OK && !is_health_check(rt)) {
        /* over --max-connections or the per-address cap: only the balancer's checks are served */
        refuse_over_limit(r, limit);
    } else if (rt) {
        r->route = rt->path;
        if (origin_allowed(r, r->cmd)) rt->handler(r);
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

void http_refuse(struct http_conn *c, api_error e) {
    char url[64] = "-";
    const struct http_head *h = c->reading->rd.head;
    if (h && h->bytes && h->url_done) copy_printable(url, sizeof(url), h->bytes);
    http_conn_drop_head(c); /* it may be half-read */
    struct request *r = request_begin(c);
    assign_request_id(r, NULL);
    set_path(r, url);
    c->close_after = true;
    http_reply_error(r, e, NULL);
}

/* Connection limits: --max-connections, lowered when the open-file limit
 * cannot hold that many, and the per-address cap. */
static int start_conns(struct server *srv) {
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) < 0) nofile.rlim_cur = 1024;
    long usable = (long)nofile.rlim_cur - HTTP_FD_RESERVE;
    struct http_conns_limits limits = {.max_connections = srv->cfg.max_connections,
                                       .max_per_address = srv->cfg.max_connections_per_address,
                                       .trusted = srv->cfg.trusted_proxies};
    if (usable < limits.max_connections) {
        limits.max_connections = usable > 16 ? (int)usable : 16;
        log_warn("msg=\"--max-connections lowered to fit the open-file limit\" "
                 "max_connections=%d nofile=%ld", limits.max_connections, (long)nofile.rlim_cur);
    }
    srv->http_state->conns = http_conns_new(&limits, srv->metrics);
    return srv->http_state->conns ? 0 : -1;
}

static int listen_on(struct http_state *st);

int http_start(struct server *srv, const struct route *routes, size_t nroutes) {
    struct http_state *st = calloc(1, sizeof(*st));
    if (!st) return -1;
    *st = (struct http_state){.srv = srv, .routes = routes, .nroutes = nroutes, .date_made = -1,
                              .request_timeout_ms = srv->cfg.request_timeout_ms};
    srv->http_state = st;
    st->socks = stream_socks_new();
    if (!st->socks || start_conns(srv) < 0) return -1;
    return listen_on(st);
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
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC |
                     LEV_OPT_DISABLED;
    if (srv->cfg.reuseport) flags |= LEV_OPT_REUSEABLE_PORT;
    struct evconnlistener *l = evconnlistener_new_bind(srv->base, NULL, NULL, flags, 1024,
                                                       ai->ai_addr, (int)ai->ai_addrlen);
    evutil_freeaddrinfo(ai);
    /* A reply goes out in one write, a stream's events in small ones: with
     * Nagle's algorithm a small one waits ~40 ms for the client's delayed
     * ACK. Accepted sockets inherit TCP_NODELAY from the listener on Linux. */
    int one = 1;
    if (l) setsockopt(evconnlistener_get_fd(l), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (!l || http_conn_listen(st, l) < 0) {
        if (l && !st->listener) evconnlistener_free(l);
        log_error("msg=\"cannot listen\" bind=%s port=%d", srv->cfg.bind, srv->cfg.port);
        return -1;
    }
    return 0;
}

void http_stop_accepting(struct server *srv) {
    struct http_state *st = srv->http_state;
    if (!st) return;
    if (st->accept_pause) event_del(st->accept_pause);
    if (!st->listener) return;
    evconnlistener_free(st->listener);
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
    http_conn_close_all(st); /* open streams are aborted with their connections */
    stream_socks_free(st->socks); /* ended streams still writing */
    http_conns_free(st->conns);
    if (st->listener) evconnlistener_free(st->listener);
    if (st->accept_pause) event_free(st->accept_pause);
    free(st);
    srv->http_state = NULL;
}

/* The value of the last X-Forwarded-For header (the one our proxy added). */
static const char *last_forwarded_for(const struct request *r) {
    const struct http_head *h = head_of(r);
    const char *last = NULL;
    for (uint32_t i = 0; h && i < h->count; i++)
        if (h->value[i] != UINT32_MAX && strcasecmp(h->bytes + h->name[i], "X-Forwarded-For") == 0)
            last = h->bytes + h->value[i];
    return last;
}

void http_client_address(const struct request *r, char out[CLIENT_ADDR_MAX]) {
    char peer[CLIENT_ADDR_MAX], picked[CLIENT_ADDR_MAX];
    peer_text(r->conn, peer);
    client_addr_pick(peer[0] ? peer : "unknown", last_forwarded_for(r),
                     r->srv->cfg.trusted_proxies, picked, sizeof(picked));
    client_addr_limit_key(picked, out, CLIENT_ADDR_MAX);
}
