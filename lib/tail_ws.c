/*
 * chat_tail_ws(): follows a room over chatd's WebSocket (GET /ws) with the
 * rules of chat_tail(): each message once, in id order, and after a lost
 * connection a new one that subscribes again from the last id delivered.
 * libcurl (7.88, as Debian has it) speaks no WebSocket, so it only opens
 * the connection (CURLOPT_CONNECT_ONLY: TCP, and TLS for https://); the
 * upgrade request is written here and the frames are wslay's (a client
 * context: its frames are masked).
 */
#include "client_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <wslay/wslay.h>

#define WS_HEAD_MAX 8192 /* bytes of the upgrade's answer, up to its blank line */

/* One connection of a chat_tail_ws() call. */
typedef struct ws_tail {
    chat_client *c;
    chat_tail_fn *on_message;
    void *arg;
    const char *room;              /* "lobby" or the room */
    CURL *h;                       /* the connection (CONNECT_ONLY) */
    curl_socket_t fd;              /* its socket, for poll() */
    char head[WS_HEAD_MAX];        /* the upgrade's answer, then bytes after it */
    size_t head_len, head_at;      /* bytes in head, bytes of it handed to wslay */
    long long last_byte_ms;        /* when bytes last arrived */
    int subscribed;                /* the server confirmed the subscription */
    int closed;                    /* a close frame came: its code in close_code */
    int close_code;
    int stop;                      /* on_message asked to stop */
    int err;                       /* a failure that ends the call */
} ws_tail;

/* Waits until the socket is readable (out = 0) or writable; 0, or -1 after
 * ms without. */
static int wait_socket(ws_tail *t, int out, long ms) {
    struct pollfd p = {.fd = (int)t->fd, .events = out ? POLLOUT : POLLIN};
    int n;
    do n = poll(&p, 1, (int)ms);
    while (n < 0 && errno == EINTR);
    return n > 0 ? 0 : -1;
}

/* Writes all of data (the upgrade request); CHAT_OK or a network error. */
static int send_all(ws_tail *t, const char *data, size_t len) {
    while (len > 0) {
        size_t n = 0;
        CURLcode cc = curl_easy_send(t->h, data, len, &n);
        if (cc == CURLE_AGAIN) {
            if (wait_socket(t, 1, t->c->timeout_ms) < 0) return CHAT_ERR_NETWORK;
            continue;
        }
        if (cc != CURLE_OK) return chat__client_fail_transfer(t->c, cc);
        data += n, len -= n;
    }
    return CHAT_OK;
}

/* Reads the upgrade's answer up to its blank line; its status goes to
 * c->status. Bytes after it stay in head for wslay. */
static int read_answer(ws_tail *t) {
    char *end = NULL;
    while (!end) {
        size_t n = 0;
        if (t->head_len == sizeof t->head - 1)
            return chat__client_fail(t->c, CHAT_ERR_PROTOCOL, "the upgrade's answer is too long");
        CURLcode cc = curl_easy_recv(t->h, t->head + t->head_len, sizeof t->head - 1 - t->head_len,
                                     &n);
        if (cc == CURLE_AGAIN) {
            if (wait_socket(t, 0, t->c->timeout_ms) < 0)
                return chat__client_fail(t->c, CHAT_ERR_NETWORK, "no answer to the upgrade");
            continue;
        }
        if (cc != CURLE_OK || n == 0)
            return cc != CURLE_OK ? chat__client_fail_transfer(t->c, cc)
                                  : chat__client_fail(t->c, CHAT_ERR_NETWORK,
                                                      "the server closed before answering");
        t->head_len += n;
        t->head[t->head_len] = '\0';
        end = strstr(t->head, "\r\n\r\n");
    }
    char *after = NULL;
    long status = strncmp(t->head, "HTTP/1.", 7) == 0 && t->head[8] == ' '
                      ? strtol(t->head + 9, &after, 10) : 0;
    if (status < 100 || status > 599 || after != t->head + 12)
        return chat__client_fail(t->c, CHAT_ERR_PROTOCOL, "the upgrade's answer is not HTTP");
    t->c->status = (int)status;
    t->head_at = (size_t)(end + 4 - t->head);
    if (status == 101) return CHAT_OK;
    return chat__client_fail(t->c, chat__status_to_err((int)status),
                             "the server refused the WebSocket (HTTP %ld)", status);
}

/* ---- wslay's callbacks ---- */

static ssize_t on_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                       void *arg) {
    (void)flags;
    ws_tail *t = arg;
    size_t n = 0;
    if (t->head_at < t->head_len) { /* bytes that came behind the answer */
        n = t->head_len - t->head_at < len ? t->head_len - t->head_at : len;
        memcpy(buf, t->head + t->head_at, n);
        t->head_at += n;
        return (ssize_t)n;
    }
    CURLcode cc = curl_easy_recv(t->h, buf, len, &n);
    if (cc == CURLE_OK && n > 0) {
        t->last_byte_ms = chat__now_ms();
        return (ssize_t)n;
    }
    wslay_event_set_error(ctx, cc == CURLE_AGAIN ? WSLAY_ERR_WOULDBLOCK
                                                 : WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

static ssize_t on_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *arg) {
    (void)flags;
    ws_tail *t = arg;
    size_t n = 0;
    CURLcode cc = curl_easy_send(t->h, data, len, &n);
    if (cc == CURLE_OK) return (ssize_t)n;
    wslay_event_set_error(ctx, cc == CURLE_AGAIN ? WSLAY_ERR_WOULDBLOCK
                                                 : WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

static int on_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *arg) {
    (void)ctx, (void)arg;
    return getrandom(buf, len, 0) == (ssize_t)len ? 0 : -1;
}

/* A message event: delivered unless its id is not past the last one. */
static void deliver(ws_tail *t, json_t *root) {
    chat_client *c = t->c;
    chat_message m = {0};
    unsigned long long id[2], last[2];
    int rc = chat__message_from_json(root, &m);
    if (rc == CHAT_OK && chat_wire_stream_id_parse(m.id, id) != 0) rc = CHAT_ERR_PROTOCOL;
    if (rc != CHAT_OK) {
        chat_message_cleanup(&m);
        t->err = chat__client_fail_parse(c, rc, "message event");
        return;
    }
    if (!c->last_event_id[0] || chat_wire_stream_id_parse(c->last_event_id, last) != 0 ||
        chat_wire_stream_id_compare(id, last) > 0) {
        snprintf(c->last_event_id, sizeof c->last_event_id, "%s", m.id);
        t->stop = t->on_message(&m, t->arg) != 0;
    }
    chat_message_cleanup(&m);
}

/* The server's error answer to our subscribe: as the REST status would. */
static void refused(ws_tail *t, json_t *root) {
    static const struct { const char *code; int status; } statuses[] = {
        {"not_found", 404}, {"unauthorized", 401}, {"invalid_room", 400},
        {"invalid_query", 400}, {"unavailable", 503}, {"rate_limited", 429}};
    const char *code = json_string_value(json_object_get(root, "code"));
    const char *words = json_string_value(json_object_get(root, "message"));
    int status = 500;
    for (size_t i = 0; code && i < sizeof statuses / sizeof statuses[0]; i++)
        if (strcmp(code, statuses[i].code) == 0) status = statuses[i].status;
    t->c->status = status;
    t->err = chat__client_fail(t->c, chat__status_to_err(status), "%s",
                               words ? words : "the server refused the subscription");
}

/* The server ended the subscription (its user left the private room, or
 * was removed or banned): as the event stream's reconnection would be
 * answered, 404, which is no reason to try again. */
static void revoked(ws_tail *t) {
    t->c->status = 404;
    t->err = chat__client_fail(t->c, chat__status_to_err(404), "%s",
                               "access to the room ended (left, removed or banned)");
}

static void on_text(ws_tail *t, const char *data, size_t len) {
    json_t *root = json_loadb(data, len, 0, NULL);
    const char *type = json_string_value(json_object_get(root, "type"));
    if (!type) t->err = chat__client_fail(t->c, CHAT_ERR_PROTOCOL, "a message without a type");
    else if (strcmp(type, "message") == 0) deliver(t, root);
    else if (strcmp(type, "subscribed") == 0) t->subscribed = 1;
    else if (strcmp(type, "error") == 0) refused(t, root);
    else if (strcmp(type, "unsubscribed") == 0) revoked(t); /* we never unsubscribe */
    json_decref(root); /* ready, gap and the others need nothing here */
}

static void on_frames(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *m,
                      void *arg) {
    (void)ctx;
    ws_tail *t = arg;
    if (m->opcode == WSLAY_TEXT_FRAME && !t->err && !t->stop)
        on_text(t, (const char *)m->msg, m->msg_length);
    else if (m->opcode == WSLAY_CONNECTION_CLOSE) {
        t->closed = 1;
        t->close_code = m->status_code;
    }
}

/* ---- one connection ---- */

/* Queues the subscribe for the room, from the last id delivered. */
static int subscribe(ws_tail *t, wslay_event_context_ptr ctx) {
    json_t *msg = json_pack("{s:s, s:s}", "type", "subscribe", "room", t->room);
    if (msg && t->c->last_event_id[0])
        json_object_set_new(msg, "after", json_string(t->c->last_event_id));
    char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    if (!text) return chat__client_fail(t->c, CHAT_ERR_NOMEM, "out of memory");
    struct wslay_event_msg frame = {WSLAY_TEXT_FRAME, (const uint8_t *)text, strlen(text)};
    int rc = wslay_event_queue_msg(ctx, &frame);
    free(text);
    return rc == 0 ? CHAT_OK : chat__client_fail(t->c, CHAT_ERR_NOMEM, "out of memory");
}

/* Why a connection that stopped reading ended. */
static int ended(ws_tail *t) {
    if (t->closed && t->close_code == 4001) {
        t->c->status = 401;
        return chat__client_fail(t->c, CHAT_ERR_AUTH, "the session ended (close code 4001)");
    }
    if (t->closed)
        return chat__client_fail(t->c, CHAT_ERR_NETWORK, "the server closed the WebSocket (%d)",
                                 t->close_code);
    return chat__client_fail(t->c, CHAT_ERR_NETWORK, "the connection was lost");
}

/* Reads frames until on_message stops, a failure, or the connection ends. */
static int serve(ws_tail *t, wslay_event_context_ptr ctx) {
    t->last_byte_ms = chat__now_ms();
    for (;;) {
        if (wslay_event_want_write(ctx) && wslay_event_send(ctx) < 0) return ended(t);
        if (t->head_at == t->head_len && wait_socket(t, 0, 1000) < 0) {
            if (chat__now_ms() - t->last_byte_ms > CHAT_TAIL_IDLE_MS)
                return chat__client_fail(t->c, CHAT_ERR_NETWORK,
                                         "the server sent nothing for %ld ms", CHAT_TAIL_IDLE_MS);
            continue;
        }
        if (wslay_event_recv(ctx) < 0 || !wslay_event_want_read(ctx)) {
            wslay_event_send(ctx); /* the answer to a close */
            return t->stop ? CHAT_OK : t->err ? t->err : ended(t);
        }
        if (t->stop) return CHAT_OK;
        if (t->err) return t->err;
    }
}

/* Sec-WebSocket-Key: the base64 of 16 random bytes (24 characters). */
static int make_key(char key[25]) {
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char nonce[16];
    size_t o = 0;
    if (getrandom(nonce, sizeof nonce, 0) != (ssize_t)sizeof nonce) return -1;
    for (size_t i = 0; i < 15; i += 3) { /* five whole groups of three bytes */
        unsigned v = (unsigned)nonce[i] << 16 | (unsigned)nonce[i + 1] << 8 | nonce[i + 2];
        for (int shift = 18; shift >= 0; shift -= 6) key[o++] = b64[v >> shift & 63];
    }
    key[o++] = b64[nonce[15] >> 2]; /* and the last byte, padded */
    key[o++] = b64[(nonce[15] & 3) << 4];
    memcpy(key + o, "==", 3);
    return 0;
}

/* The upgrade request, with the session as a Bearer token. */
static int upgrade(ws_tail *t) {
    char key[25], req[CHAT_TOKEN_MAX + 512];
    const char *host = strstr(t->c->base_url, "://");
    host = host ? host + 3 : t->c->base_url;
    if (make_key(key) < 0) return chat__client_fail(t->c, CHAT_ERR_NOMEM, "no random bytes");
    int n = snprintf(req, sizeof req,
                     "GET /ws HTTP/1.1\r\nHost: %.*s\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Key: %s\r\nAuthorization: Bearer %s\r\n"
                     "User-Agent: libchatclient/1.0\r\n\r\n",
                     (int)strcspn(host, "/"), host, key, t->c->token);
    int rc = n > 0 && (size_t)n < sizeof req ? send_all(t, req, (size_t)n)
                                             : chat__client_fail(t->c, CHAT_ERR_USAGE,
                                                                 "the session token is too long");
    memset(req, 0, sizeof req); /* it held the token */
    return rc;
}

/* Opens the connection and reads it until it ends; see serve(). */
static int attempt(ws_tail *t) {
    static const struct wslay_event_callbacks callbacks = {
        .recv_callback = on_recv, .send_callback = on_send, .genmask_callback = on_genmask,
        .on_msg_recv_callback = on_frames};
    chat_client *c = t->c;
    wslay_event_context_ptr ctx = NULL;
    chat__client_response_reset(c);
    curl_easy_reset(c->curl);
    chat__client_setup_common(c);
    t->h = curl_easy_duphandle(c->curl);
    t->head_len = t->head_at = 0;
    t->subscribed = t->closed = t->close_code = t->stop = t->err = 0;
    if (!t->h) return chat__client_fail(c, CHAT_ERR_NOMEM, "out of memory");
    curl_easy_setopt(t->h, CURLOPT_URL, c->base_url);
    curl_easy_setopt(t->h, CURLOPT_CONNECT_ONLY, 1L);
    /* ALPN offers http/1.1 alone: the upgrade below is HTTP/1.1 */
    curl_easy_setopt(t->h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(t->h, CURLOPT_TIMEOUT_MS, 0L);
    curl_easy_setopt(t->h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
    CURLcode cc = curl_easy_perform(t->h);
    int rc = cc == CURLE_OK ? CHAT_OK : chat__client_fail_transfer(c, cc);
    if (rc == CHAT_OK && curl_easy_getinfo(t->h, CURLINFO_ACTIVESOCKET, &t->fd) != CURLE_OK)
        rc = chat__client_fail(c, CHAT_ERR_NETWORK, "no socket");
    if (rc == CHAT_OK) rc = upgrade(t);
    if (rc == CHAT_OK) rc = read_answer(t);
    if (rc == CHAT_OK && wslay_event_context_client_init(&ctx, &callbacks, t) != 0)
        rc = chat__client_fail(c, CHAT_ERR_NOMEM, "out of memory");
    if (rc == CHAT_OK) rc = subscribe(t, ctx);
    if (rc == CHAT_OK) rc = serve(t, ctx);
    wslay_event_context_free(ctx);
    curl_easy_cleanup(t->h);
    t->h = NULL;
    return rc;
}

/* Whether a connection that ended with rc is worth opening again. */
static int transient(const ws_tail *t, int rc) {
    if (rc == CHAT_ERR_NETWORK) return !t->c->hopeless;
    return rc == CHAT_ERR_UNAVAILABLE || (rc == CHAT_ERR_SERVER && t->c->status >= 500);
}

static int run(ws_tail *t) {
    chat_client *c = t->c;
    long long healthy = chat__now_ms();
    unsigned failures = 0;
    for (;;) {
        c->attempts++;
        int rc = attempt(t);
        if (t->stop) return CHAT_OK;
        if (!transient(t, rc)) return rc;
        failures = t->subscribed ? 0 : failures + 1;
        if (t->subscribed) healthy = chat__now_ms();
        /* 1001: the server drains; another one takes us at once */
        long wait = t->close_code == 1001 ? CHAT_TAIL_MIN_MS
                                          : chat__backoff_jitter(chat__tail_delay(-1, failures));
        long long elapsed = chat__now_ms() - healthy;
        if (elapsed + wait > c->retry_budget_ms) return rc;
        chat__sleep_ms(wait);
    }
}

int chat_tail_ws(chat_client *c, const char *room, const char *after, chat_tail_fn *on_message,
                 void *arg) {
    if (chat__client_begin(c) != CHAT_OK) return CHAT_ERR_USAGE;
    unsigned long long parts[2];
    if (!on_message) return chat__client_fail(c, CHAT_ERR_USAGE, "no callback for the messages");
    if (!c->token) return chat__client_fail(c, CHAT_ERR_USAGE, "a WebSocket needs a session");
    if (room && !chat_wire_room_valid(room))
        return chat__client_fail(c, CHAT_ERR_USAGE, "a room name is 1 to 64 of a-z 0-9 _ -");
    if (after && chat_wire_stream_id_parse(after, parts) != 0)
        return chat__client_fail(c, CHAT_ERR_USAGE, "after must be a message id (<ms>-<seq>)");
    ws_tail t = {.c = c, .on_message = on_message, .arg = arg, .room = room ? room : "lobby"};
    memmove(c->last_event_id, after ? after : "", after ? strlen(after) + 1 : 1);
    return run(&t);
}
