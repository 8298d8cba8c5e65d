/*
 * floor: the least work a server can do to fan a message out to Server-Sent
 * Events subscribers, as the yardstick for chatd's fan-out in bench/.
 *
 * usage: floor --port PORT [--bind ADDR]
 *
 * One thread, one libevent loop, no Redis. GET on any path but /health opens
 * an event stream; POST with a JSON body {"text": ...} publishes a message:
 * it is encoded once, with chatd's own encoder (json_message_append) and
 * chatd's SSE framing (one chunk per event of a chunked body: "id: <ms>-<seq>"
 * and "data: <the message JSON>"), and written to every subscriber at once:
 * with send() straight away when the subscriber's output is empty, queued
 * behind what is still waiting otherwise. The POST is answered 201 with the
 * message and the connection closed. GET /health answers 200. A subscriber
 * whose backlog passes 4 MB is cut, like chatd's slow-consumer limit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "json.h"

#define REQUEST_MAX 65536     /* request head and body together */
#define BACKLOG_MAX (4 << 20) /* queued bytes before a subscriber is cut */
#define HELLO "retry: 3000\n: connected\n\n"

enum client_state {
    CLIENT_REQUEST,    /* reading a request */
    CLIENT_SUBSCRIBER, /* an open event stream */
    CLIENT_CLOSING,    /* closed once its output is written */
};

/* One connection. */
struct client {
    int fd;
    enum client_state state;
    struct event *rd, *wr; /* readable; writable (added only while out is not empty) */
    struct evbuffer *in;   /* request bytes read so far */
    struct evbuffer *out;  /* bytes send() could not take yet */
    size_t index;          /* in the subscriber array, when a subscriber */
    bool dead;             /* to be closed after the current publish */
};

/* The whole server. */
static struct {
    struct event_base *base;
    struct client **subs; /* the open event streams */
    size_t nsubs, capsubs;
    unsigned long long seq; /* messages published in the current ms */
    long long last_ms;      /* the ms of the last id */
    unsigned long long published;
} srv;

static void client_close(struct client *c) {
    if (c->state == CLIENT_SUBSCRIBER) {
        srv.subs[c->index] = srv.subs[--srv.nsubs];
        srv.subs[c->index]->index = c->index;
    }
    event_free(c->rd);
    event_free(c->wr);
    evbuffer_free(c->in);
    evbuffer_free(c->out);
    close(c->fd);
    free(c);
}

/* Writes data: straight to the socket when nothing is queued, else queued.
 * Marks the client dead on an error or a backlog past the limit. */
static void client_send(struct client *c, const char *data, size_t len) {
    if (c->dead) return;
    if (evbuffer_get_length(c->out) == 0) {
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            c->dead = true;
            return;
        }
        if (n < 0) n = 0;
        data += n;
        len -= (size_t)n;
        if (len == 0) return;
        event_add(c->wr, NULL);
    }
    if (evbuffer_get_length(c->out) + len > BACKLOG_MAX || evbuffer_add(c->out, data, len) < 0)
        c->dead = true;
}

static void on_write(evutil_socket_t fd, short what, void *arg) {
    struct client *c = arg;
    (void)what;
    if (evbuffer_write(c->out, fd) < 0 && errno != EAGAIN) {
        client_close(c);
        return;
    }
    if (evbuffer_get_length(c->out)) return;
    event_del(c->wr);
    if (c->state == CLIENT_CLOSING) client_close(c);
}

/* Sends a whole reply and closes the connection once it is written. */
static void reply(struct client *c, int status, const char *reason, const char *body, size_t len) {
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=utf-8\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     status, reason, len);
    c->state = CLIENT_CLOSING;
    event_del(c->rd);
    client_send(c, head, (size_t)n);
    client_send(c, body, len);
    if (c->dead || evbuffer_get_length(c->out) == 0) client_close(c);
}

/* Appends "<hex size>\r\n<data>\r\n", one chunk of a chunked body. */
static void add_chunk(struct evbuffer *out, const void *data, size_t len) {
    evbuffer_add_printf(out, "%zx\r\n", len);
    evbuffer_add(out, data, len);
    evbuffer_add(out, "\r\n", 2);
}

static void subscribe(struct client *c) {
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                               "Cache-Control: no-store\r\nTransfer-Encoding: chunked\r\n\r\n";
    if (srv.nsubs == srv.capsubs) {
        size_t cap = srv.capsubs ? srv.capsubs * 2 : 1024;
        struct client **p = realloc(srv.subs, cap * sizeof(*p));
        if (!p) {
            client_close(c);
            return;
        }
        srv.subs = p;
        srv.capsubs = cap;
    }
    c->state = CLIENT_SUBSCRIBER;
    c->index = srv.nsubs;
    srv.subs[srv.nsubs++] = c;
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, head, sizeof(head) - 1);
    add_chunk(b, HELLO, sizeof(HELLO) - 1);
    size_t len = evbuffer_get_length(b);
    client_send(c, (const char *)evbuffer_pullup(b, -1), len);
    evbuffer_free(b);
    if (c->dead) client_close(c);
}

/* The next id "<ms>-<seq>", increasing as a Redis stream's. */
static void next_id(char id[48], long long *ms_out) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (ms <= srv.last_ms) {
        ms = srv.last_ms;
        srv.seq++;
    } else {
        srv.last_ms = ms;
        srv.seq = 0;
    }
    snprintf(id, 48, "%lld-%llu", ms, srv.seq);
    *ms_out = ms;
}

/* Encodes the message once as an SSE chunk and hands it to every subscriber. */
static void publish(struct client *c, const char *text, size_t text_len) {
    char id[48];
    struct message m = {.id = id,
                        .user_id = "00000000000000000000000000000000",
                        .name = "floor",
                        .text = text,
                        .text_len = text_len};
    next_id(id, &m.timestamp);
    struct evbuffer *event = evbuffer_new(), *frame = evbuffer_new(), *body = evbuffer_new();
    evbuffer_add_printf(event, "id: %s\ndata: ", id);
    if (json_message_append(event, &m) < 0 || json_message_append(body, &m) < 0) {
        static const char bad[] =
            "{\"error\":{\"code\":\"invalid_text\",\"message\":\"bad UTF-8\"}}";
        reply(c, 400, "Bad Request", bad, sizeof(bad) - 1);
        goto done;
    }
    evbuffer_add(event, "\n\n", 2);
    add_chunk(frame, evbuffer_pullup(event, -1), evbuffer_get_length(event));
    const char *data = (const char *)evbuffer_pullup(frame, -1);
    size_t len = evbuffer_get_length(frame);
    for (size_t i = 0; i < srv.nsubs; i++)
        client_send(srv.subs[i], data, len);
    for (size_t i = srv.nsubs; i-- > 0;) /* from the end: closing swaps the last one in */
        if (srv.subs[i]->dead) client_close(srv.subs[i]);
    srv.published++;
    reply(c, 201, "Created", (const char *)evbuffer_pullup(body, -1), evbuffer_get_length(body));
done:
    evbuffer_free(event);
    evbuffer_free(frame);
    evbuffer_free(body);
}

static void on_post(struct client *c, const char *body, size_t len) {
    json_t *obj = NULL;
    const char *text = NULL;
    size_t text_len = 0;
    if (json_parse_object(body, len, &obj) != API_E_OK ||
        json_get_string(obj, "text", true, API_E_BAD_JSON, &text, &text_len) != API_E_OK) {
        static const char bad[] = "{\"error\":{\"code\":\"bad_json\",\"message\":\"need {text}\"}}";
        reply(c, 400, "Bad Request", bad, sizeof(bad) - 1);
    } else {
        publish(c, text, text_len);
    }
    json_decref(obj);
}

/* A complete request head is in c->in (head_len bytes with the blank line):
 * 1 when handled, 0 when the body is still incomplete. */
static int on_request(struct client *c, size_t head_len) {
    char *head = (char *)evbuffer_pullup(c->in, -1);
    size_t have = evbuffer_get_length(c->in);
    if (strncmp(head, "GET ", 4) == 0) {
        if (strncmp(head + 4, "/health ", 8) == 0)
            reply(c, 200, "OK", "{}", 2);
        else
            subscribe(c);
        return 1;
    }
    if (strncmp(head, "POST ", 5) != 0) {
        reply(c, 405, "Method Not Allowed", "{}", 2);
        return 1;
    }
    size_t body_len = 0;
    char *cl = strcasestr(head, "\r\ncontent-length:");
    if (cl && cl < head + head_len) body_len = strtoul(cl + 17, NULL, 10);
    if (head_len + body_len > REQUEST_MAX) {
        reply(c, 413, "Payload Too Large", "{}", 2);
        return 1;
    }
    if (have < head_len + body_len) return 0;
    on_post(c, head + head_len, body_len);
    return 1;
}

static void on_read(evutil_socket_t fd, short what, void *arg) {
    struct client *c = arg;
    (void)what;
    int n = evbuffer_read(c->in, fd, 4096);
    if (n == 0 || (n < 0 && errno != EAGAIN)) {
        client_close(c);
        return;
    }
    if (c->state != CLIENT_REQUEST) {
        evbuffer_drain(c->in, evbuffer_get_length(c->in)); /* a subscriber says nothing */
        return;
    }
    struct evbuffer_ptr end = evbuffer_search(c->in, "\r\n\r\n", 4, NULL);
    if (end.pos < 0) {
        if (evbuffer_get_length(c->in) > REQUEST_MAX) client_close(c);
        return;
    }
    on_request(c, (size_t)end.pos + 4);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg) {
    (void)l, (void)sa, (void)salen, (void)arg;
    struct client *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->fd = fd;
    c->rd = event_new(srv.base, fd, EV_READ | EV_PERSIST, on_read, c);
    c->wr = event_new(srv.base, fd, EV_WRITE | EV_PERSIST, on_write, c);
    c->in = evbuffer_new();
    c->out = evbuffer_new();
    if (!c->rd || !c->wr || !c->in || !c->out) {
        if (c->rd) event_free(c->rd);
        if (c->wr) event_free(c->wr);
        if (c->in) evbuffer_free(c->in);
        if (c->out) evbuffer_free(c->out);
        close(fd);
        free(c);
        return;
    }
    event_add(c->rd, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
    (void)sig, (void)what, (void)arg;
    event_base_loopbreak(srv.base);
}

static void raise_fd_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv) {
    static const struct option longopts[] = {
        {"port", required_argument, NULL, 'p'}, {"bind", required_argument, NULL, 'b'}, {0}};
    const char *bind_addr = "127.0.0.1";
    int port = 0, ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (ch == 'p')
            port = atoi(optarg);
        else if (ch == 'b')
            bind_addr = optarg;
        else
            port = -1;
    }
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (port <= 0 || port > 65535 || optind != argc ||
        inet_pton(AF_INET, bind_addr, &sin.sin_addr) != 1) {
        fprintf(stderr, "usage: floor --port PORT [--bind IPV4-ADDRESS]\n");
        return 2;
    }
    raise_fd_limit();
    signal(SIGPIPE, SIG_IGN);
    srv.base = event_base_new();
    struct evconnlistener *l = evconnlistener_new_bind(srv.base, on_accept, NULL,
                                                       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                                       4096, (struct sockaddr *)&sin, sizeof(sin));
    if (!l) {
        fprintf(stderr, "floor: cannot listen on %s:%d: %s\n", bind_addr, port, strerror(errno));
        return 1;
    }
    struct event *term = evsignal_new(srv.base, SIGTERM, on_signal, NULL);
    struct event *intr = evsignal_new(srv.base, SIGINT, on_signal, NULL);
    event_add(term, NULL);
    event_add(intr, NULL);
    fprintf(stderr, "floor: listening on %s:%d\n", bind_addr, port);
    event_base_dispatch(srv.base);
    fprintf(stderr, "floor: %llu messages published, %zu subscribers open at exit\n", srv.published,
            srv.nsubs);
    while (srv.nsubs)
        client_close(srv.subs[srv.nsubs - 1]);
    free(srv.subs);
    event_free(term);
    event_free(intr);
    evconnlistener_free(l);
    event_base_free(srv.base);
    return 0;
}
