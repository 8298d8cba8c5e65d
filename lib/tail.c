/*
 * chat_tail(): follows a room's Server-Sent Events on the client's handle.
 * The write callback feeds the SSE parser (sse.c), and each message event
 * goes to the caller's callback once, in id order; a lost stream is reopened
 * with Last-Event-ID. Also chat_client_last_event_id().
 */
#include "client_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- chat_tail: following a room ---- */

void chat_client_on_signal(chat_client *c, chat_signal_fn *fn, void *arg) {
    c->on_signal = fn;
    c->signal_arg = arg;
}

/* One chat_tail() call. */
typedef struct tail_state {
    chat_client *c;                     /* the client whose handle streams */
    chat_tail_fn *on_message;           /* the caller's callback */
    void *arg;                          /* and its argument */
    char *path;                         /* the stream's path */
    sse_parser parser;                  /* the current stream's parser */
    char cursor[CHAT_STREAM_ID_MAX + 1]; /* resume point from the first Date while nothing
                                           was delivered ("" for none) */
    long long last_byte_ms;             /* when bytes last arrived (or the attempt began) */
    long long date;                     /* the answer's Date header (s since the epoch), 0 none */
    int got_bytes;                      /* the answer has begun */
    int checked;                        /* the answer's status and type were checked */
    int streaming;                      /* the answer is a 2xx event stream */
    int idle;                           /* the transfer was ended for silence */
    int stop;                           /* on_message asked to stop */
    int err;                            /* a callback's chat_err that ended the transfer */
} tail_state;

/* Looks at the answer's status and type once its body begins (or after an
 * empty one): a 2xx must be text/event-stream; other statuses keep their
 * body for the error message. */
static int tail_check_answer(tail_state *t) {
    chat_client *c = t->c;
    long status = 0;
    char *type = NULL;
    t->checked = 1;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c->curl, CURLINFO_CONTENT_TYPE, &type);
    c->status = (int)status;
    if (status < 200 || status >= 300) return CHAT_OK;
    static const char sse_type[] = "text/event-stream";
    size_t n = sizeof sse_type - 1;
    if (!type || strncasecmp(type, sse_type, n) != 0 || (type[n] && !strchr("; \t", type[n])))
        return t->err =
                   chat__client_fail(c, CHAT_ERR_PROTOCOL,
                                     "the server's answer is not an event stream (Content-Type %s)",
                                     type ? type : "missing");
    t->streaming = 1;
    return CHAT_OK;
}

/* One complete message event: parses it, skips it when its id is not past
 * the last one delivered, else delivers it. */
static int tail_on_event(const char *data, size_t len, void *arg) {
    tail_state *t = arg;
    chat_client *c = t->c;
    chat_message m = {0};
    unsigned long long id[2], last[2];
    json_t *root = json_loadb(data, len, 0, NULL);
    int rc = root ? chat__message_from_json(root, &m) : CHAT_ERR_PROTOCOL;
    json_decref(root);
    if (rc == CHAT_OK && chat_wire_stream_id_parse(m.id, id) != 0) rc = CHAT_ERR_PROTOCOL;
    if (rc != CHAT_OK) {
        chat_message_cleanup(&m);
        return chat__client_fail_parse(c, rc, "message event");
    }
    int stop = 0;
    if (!c->last_event_id[0] || chat_wire_stream_id_parse(c->last_event_id, last) != 0 ||
        chat_wire_stream_id_compare(id, last) > 0) {
        snprintf(c->last_event_id, sizeof c->last_event_id, "%s", m.id);
        stop = t->on_message(&m, t->arg) != 0;
    }
    chat_message_cleanup(&m);
    t->stop = stop;
    return stop;
}

static size_t tail_on_body(char *data, size_t size, size_t nmemb, void *userdata) {
    tail_state *t = userdata;
    chat_client *c = t->c;
    size_t len = size * nmemb;
    t->last_byte_ms = chat__now_ms();
    t->got_bytes = 1;
    if (!t->checked && tail_check_answer(t) != CHAT_OK) return 0;
    if (!t->streaming) { /* an error answer: keep its start for the words */
        size_t room = c->body.len < CHAT_ERROR_BODY_MAX ? CHAT_ERROR_BODY_MAX - c->body.len : 0;
        if (chat__buf_append(&c->body, data, len < room ? len : room) != 0) {
            t->err = chat__client_fail(c, CHAT_ERR_NOMEM, "out of memory");
            return 0;
        }
        return len;
    }
    int rc = chat__sse_feed(&t->parser, data, len, tail_on_event, t);
    t->last_byte_ms = chat__now_ms(); /* on_message's own time is not the stream's silence */
    if (rc == CHAT_ERR_PROTOCOL && !c->error[0])
        chat__client_fail(c, rc, "the server sent an event larger than %ld bytes",
                          CHAT_SSE_EVENT_MAX);
    else if (rc == CHAT_ERR_NOMEM)
        chat__client_fail(c, rc, "out of memory");
    if (rc < 0) t->err = rc;
    return rc == 0 ? len : 0;
}

/* Notes the time of every header line and the Date of the answer. */
static size_t tail_on_header(char *data, size_t size, size_t nitems, void *userdata) {
    tail_state *t = userdata;
    size_t len = size * nitems;
    char value[128];
    t->last_byte_ms = chat__now_ms();
    t->got_bytes = 1;
    if (len > 5 && len - 5 < sizeof value && strncasecmp(data, "date:", 5) == 0) {
        memcpy(value, data + 5, len - 5);
        value[len - 5] = '\0';
        time_t when = curl_getdate(value, NULL);
        t->date = when > 0 ? (long long)when : 0;
    }
    return len;
}

/* Called by libcurl about once a second: ends a stream that has been silent
 * for CHAT_TAIL_IDLE_MS, or an answer that has not begun within the
 * client's timeout. */
static int tail_on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                            curl_off_t ultotal, curl_off_t ulnow) {
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    tail_state *t = userdata;
    long limit = t->got_bytes || t->c->timeout_ms <= 0 ? CHAT_TAIL_IDLE_MS : t->c->timeout_ms;
    t->idle = chat__now_ms() - t->last_byte_ms > limit;
    return t->idle;
}

/* The headers of a stream request, with Last-Event-ID when there is a
 * resume point. */
static struct curl_slist *tail_headers(const tail_state *t) {
    const char *id = t->c->last_event_id[0] ? t->c->last_event_id : t->cursor;
    char line[sizeof "Last-Event-ID: " + CHAT_STREAM_ID_MAX];
    const char *lines[] = {"Accept: text/event-stream", "Cache-Control: no-cache", line};
    size_t count = id[0] ? 3 : 2;
    struct curl_slist *list = NULL;
    snprintf(line, sizeof line, "Last-Event-ID: %s", id);
    for (size_t i = 0; i < count; i++) {
        struct curl_slist *next = curl_slist_append(list, lines[i]);
        if (!next) {
            curl_slist_free_all(list);
            return NULL;
        }
        list = next;
    }
    return list;
}

/* The shared options with the stream's own: no total timeout, the tail's
 * callbacks, no compression (a proxy could buffer it). */
static void tail_setup(tail_state *t, const char *url, struct curl_slist *headers,
                       const char *cookie) {
    CURL *h = t->c->curl;
    chat__client_setup_common(t->c);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 0L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, t->c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, NULL);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    /* Probes after 5 s of silence: a connection whose other end has gone
     * (the load balancer's address moved to another host, which answers
     * with a reset) ends within seconds instead of after CHAT_TAIL_IDLE_MS. */
    curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 5L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, tail_on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, tail_on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, tail_on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, t);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    if (cookie) curl_easy_setopt(h, CURLOPT_COOKIE, cookie);
}

/* Runs the prepared stream until it ends and says why it ended: CHAT_OK
 * only when on_message asked to stop. */
static int tail_transfer(tail_state *t) {
    chat_client *c = t->c;
    CURLcode cc = curl_easy_perform(c->curl);
    if (cc == CURLE_OK && !t->checked) tail_check_answer(t); /* an empty answer */
    if (t->streaming && t->date > 0 && !c->last_event_id[0] && !t->cursor[0])
        snprintf(t->cursor, sizeof t->cursor, "%lld-0", (t->date - 1) * 1000);
    if (t->stop) return CHAT_OK;
    if (t->err) return t->err;
    if (cc != CURLE_OK) {
        if (t->idle) {
            c->hopeless = 0;
            return chat__client_fail(c, CHAT_ERR_NETWORK, "the server sent nothing for %ld ms",
                                     t->got_bytes || c->timeout_ms <= 0 ? CHAT_TAIL_IDLE_MS
                                                                        : c->timeout_ms);
        }
        return chat__client_fail_transfer(c, cc);
    }
    if (!t->streaming) return chat__client_fail_status(c, chat__status_to_err(c->status));
    return chat__client_fail(c, CHAT_ERR_NETWORK, "the server ended the stream");
}

/* Opens the stream once and reads it to its end; see tail_transfer(). */
static int tail_attempt(tail_state *t) {
    chat_client *c = t->c;
    char *url = NULL, *cookie = NULL;
    struct curl_slist *headers = tail_headers(t);
    chat_request req = {"GET", t->path, NULL, 1, 0, NULL};
    int rc;
    chat__client_response_reset(c);
    curl_easy_reset(c->curl);
    chat__sse_parser_reset(&t->parser);
    t->last_byte_ms = chat__now_ms();
    t->date = 0;
    t->got_bytes = t->checked = t->streaming = t->idle = t->stop = t->err = 0;
    if (!headers || chat__client_strings(c, &req, &url, &cookie) != 0) {
        rc = chat__client_fail(c, CHAT_ERR_NOMEM, "out of memory");
    } else {
        tail_setup(t, url, headers, cookie);
        rc = tail_transfer(t);
    }
    chat__secret_free(cookie);
    free(url);
    curl_slist_free_all(headers);
    return rc;
}

/* The wait before the next connection: the server's "retry:" (else 1 s, at
 * least 50 ms), doubled for each failure after the first in a row, up to
 * 10 s or the server's value if that is longer. */
long chat__tail_delay(long retry_ms, unsigned failures) {
    long base = retry_ms >= 0 ? retry_ms : CHAT_TAIL_FIRST_MS;
    if (base < CHAT_TAIL_MIN_MS) base = CHAT_TAIL_MIN_MS;
    long cap = base > CHAT_TAIL_MAX_MS ? base : CHAT_TAIL_MAX_MS, delay = base;
    for (unsigned i = 1; i < failures && delay < cap; i++)
        delay *= 2;
    return delay < cap ? delay : cap;
}

/* Whether a stream that ended with rc is worth opening again: it worked, or
 * there was no answer (unless no retry cures it), or a 5xx. */
static int tail_is_transient(const tail_state *t, int rc) {
    const chat_client *c = t->c;
    if (rc == CHAT_ERR_NETWORK) return !c->hopeless;
    return !t->streaming && c->status >= 500 && c->status < 600 &&
           (rc == CHAT_ERR_UNAVAILABLE || rc == CHAT_ERR_SERVER);
}

/* Opens the stream again and again until on_message stops, a failure no
 * reconnection cures, or the budget runs out without a working stream. */
static int tail_run(tail_state *t) {
    chat_client *c = t->c;
    long long healthy = chat__now_ms();
    unsigned failures = 0;
    for (;;) {
        c->attempts++;
        int rc = tail_attempt(t);
        if (t->stop) return CHAT_OK;
        if (!tail_is_transient(t, rc)) return rc;
        failures = t->streaming ? 0 : failures + 1;
        if (t->streaming) healthy = chat__now_ms();
        long wait = chat__backoff_jitter(chat__tail_delay(t->parser.retry_ms, failures));
        long long elapsed = chat__now_ms() - healthy;
        if (elapsed + wait > c->retry_budget_ms) {
            size_t len = strlen(c->error);
            snprintf(c->error + len, sizeof c->error - len,
                     " (gave up after %u connections, %lld ms without a working stream)",
                     c->attempts, elapsed);
            return rc;
        }
        chat__sleep_ms(wait);
    }
}

int chat_tail(chat_client *c, const char *room, const char *after, chat_tail_fn *on_message,
              void *arg) {
    if (chat__client_begin(c) != CHAT_OK) return CHAT_ERR_USAGE;
    unsigned long long parts[2];
    if (!on_message) return chat__client_fail(c, CHAT_ERR_USAGE, "no callback for the messages");
    if (room && !chat_wire_room_valid(room))
        return chat__client_fail(c, CHAT_ERR_USAGE, "a room name is 1 to 64 of a-z 0-9 _ -");
    if (after && chat_wire_stream_id_parse(after, parts) != 0)
        return chat__client_fail(c, CHAT_ERR_USAGE, "after must be a message id (<ms>-<seq>)");
    tail_state t = {.c = c, .on_message = on_message, .arg = arg};
    t.parser.retry_ms = -1;
    size_t len = sizeof "/room//message/stream?signals=1" + (room ? strlen(room) : 0);
    if (!(t.path = malloc(len))) return chat__client_fail(c, CHAT_ERR_NOMEM, "out of memory");
    const char *signals = c->on_signal ? "?signals=1" : "";
    if (!room || strcmp(room, "lobby") == 0)
        snprintf(t.path, len, "/message/stream%s", signals);
    else
        snprintf(t.path, len, "/room/%s/message/stream%s", room, signals);
    t.parser.on_signal = c->on_signal;
    t.parser.signal_arg = c->signal_arg;
    /* after may point into last_event_id itself: move, not copy */
    memmove(c->last_event_id, after ? after : "", after ? strlen(after) + 1 : 1);
    int rc = tail_run(&t);
    chat__sse_parser_cleanup(&t.parser);
    free(t.path);
    return rc;
}

const char *chat_client_last_event_id(const chat_client *c) {
    return c && c->last_event_id[0] ? c->last_event_id : NULL;
}
