/*
 * sse_load: many subscribers on chatd's Server-Sent Events stream (or its
 * WebSocket) at once, and how long each message takes to reach all of them.
 *
 * usage: sse_load --url http://HOST:PORT/message/stream --subscribers N
 *        sse_load --url ws://HOST:PORT/ws --subscribers N ...
 *                 [--messages M] [--connect-rate R] [--timeout S]
 *                 [--publish URL [--header "Name: value"] [--gap-ms G] [--wait-signal]]
 *                 [--cdf FILE]
 *
 * It opens N connections (R per second), waits until every stream has sent
 * its first line (chatd's `retry:`, nchan's `: hi` comment), prints "ready N"
 * on stdout, and then reads events until every stream has M of them or S
 * seconds pass.
 *
 * Who sends the messages: without --publish, someone else (the stack tests
 * POST them after "ready"); the latency of an event is then now minus the
 * message's "timestamp" (chatd's receive time, whole ms, so 0-1 ms high) and
 * the order is that of the SSE ids ("<ms>-<seq>"). With --publish, sse_load
 * POSTs the M messages itself to URL, one at a time (a new connection each,
 * with the extra --header, e.g. a session cookie), G ms apart, each body being
 * {"text":"bench-seq=<i> sent-us=<send time, CLOCK_REALTIME microseconds>"}.
 * The send time is taken when the request is written, so the latency of a
 * delivery is its receive time minus that, in microseconds, whatever the
 * server adds around the text (chatd's and the floor's message JSON, or
 * nchan's raw body in the `data:` line), and the order is that of the seq.
 * With --wait-signal, sse_load waits for a SIGUSR1 after "ready" before it
 * publishes (the bench takes the server's idle memory in between), prints
 * "done" once every stream has its M events, and waits for another SIGUSR1
 * before it closes the streams (the memory with the messages delivered).
 *
 * The summary on stdout is one "name value ..." line per figure; --cdf FILE
 * gets the latency distribution, "<fraction> <ms>" for 1,000 quantiles. Exit
 * status: 0 only if every stream got all M events in order and none closed;
 * 1 otherwise; 2 for a usage error.
 *
 * One thread, one libevent loop, a bufferevent per stream. The body is read
 * in chunked transfer coding (what evhttp sends to HTTP/1.1 clients) or
 * plain; both the coding and the SSE lines may be split anywhere by reads.
 *
 * With a ws:// URL each subscriber is a WebSocket (RFC 6455) instead: the
 * upgrade carries the --header too (chatd's WebSocket needs the session
 * cookie), the stream counts as started when chatd answers its
 * {"type":"subscribe","room":"lobby"} with "subscribed", and every
 * {"type":"message"} text frame is an event (its "id", and the mark or the
 * "timestamp" in it, as above). The client side is the least RFC 6455 asks:
 * its frames (the subscribe, pongs) masked, the server's read unfragmented;
 * a close frame, a fragmented or masked frame or an "error" message ends the
 * stream.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#define TICK_MS 10     /* connections are opened in batches this far apart */
#define FD_SPARE 32    /* descriptors needed besides the streams */
#define ERRORS_SHOWN 5 /* failed streams described on stderr at most */
#define SEQ_KEY "bench-seq="
#define SENT_KEY " sent-us="
#define CDF_POINTS 1000
#define WS_ROOM "lobby"                   /* what a WebSocket subscriber follows */
#define WS_FRAME_MAX 65536                /* the longest frame a WebSocket subscriber takes */
#define WS_KEY "dGhlIHNhbXBsZSBub25jZQ==" /* any base64 of 16 bytes will do */

struct options {
    const char *url;
    int subscribers;         /* streams to open */
    int messages;            /* events every stream must get */
    int connect_rate;        /* connections opened per second */
    int timeout_s;           /* for connecting, then again for the events */
    const char *publish_url; /* where to POST the messages, or NULL */
    const char *header;      /* an extra header line for the POSTs, or NULL */
    int gap_ms;              /* between the end of one POST and the next */
    bool wait_signal;        /* SIGUSR1 before publishing and before closing */
    const char *cdf_path;    /* where to write the latency quantiles, or NULL */
    bool ws;                 /* the URL is ws://: WebSocket subscribers */
};

/* The server, from the URL. */
struct target {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char host[256]; /* for the Host header: host[:port] */
    char path[1024];
};

/* An event id "<ms>-<seq>", ordered as the pair. */
struct event_id {
    uint64_t ms, seq;
};

enum conn_phase { PHASE_UNUSED, PHASE_STATUS, PHASE_HEADERS, PHASE_BODY, PHASE_CLOSED };
enum chunk_phase { CHUNK_SIZE, CHUNK_DATA, CHUNK_END };

struct load;

/* One subscriber's stream. */
struct conn {
    struct load *ld;
    int index; /* in load.conns, for error messages */
    struct bufferevent *bev;
    struct evbuffer *body; /* body bytes not yet split into lines */
    enum conn_phase phase;
    bool chunked;           /* Transfer-Encoding: chunked */
    enum chunk_phase chunk; /* where the chunked decoder is */
    size_t chunk_left;      /* bytes left in the current chunk */
    bool started;           /* the `retry:` line came */
    bool complete;          /* got the M events */
    bool cur_data;          /* the event being read has a data line */
    bool cur_has_id;        /* ... and a valid id, cur_id */
    struct event_id cur_id;
    double cur_sent_ms;      /* ... and this send time (ms since the epoch), -1 if none */
    long long cur_seq;       /* ... and this bench-seq, -1 if none */
    long long last_seq;      /* the bench-seq of the last event taken in order */
    struct event_id last_id; /* the last event taken in order */
    int events;              /* events taken in order */
};

/* One message: how many got it and when the last of them did. */
struct msg_stat {
    struct event_id id; /* its SSE id, or {bench-seq, 0} when published by us */
    int deliveries;
    double last_ms; /* the largest latency, that of the last subscriber */
};

/* The whole run. */
struct load {
    struct options opt;
    struct target tgt;
    struct event_base *base;
    struct event *tick;     /* opens the next batch of connections */
    struct event *deadline; /* the timeout of the current phase */
    double t0;              /* CLOCK_MONOTONIC ms when connecting began */
    struct conn *conns;
    int opened, started;
    int failed;             /* closed before the stream started */
    int lost;               /* closed after it started, before its M events */
    int complete;           /* got their M events */
    bool ready;             /* "ready N" was printed */
    struct rusage ru_ready; /* our CPU use when it was */
    bool timed_out;
    double *lat; /* every in-order delivery's latency, ms */
    size_t nlat, caplat;
    struct msg_stat *msgs; /* in the order they were first seen */
    size_t nmsgs, capmsgs;
    long long received;   /* events with data, in order or not */
    long long disordered; /* ids not above the stream's previous one */
    long long malformed;  /* data without a valid id or timestamp */
    int errors_shown;
    struct target pub;      /* where the messages are POSTed */
    struct event *sigusr1;  /* the go-ahead of --wait-signal */
    struct event *gap;      /* the pause between two POSTs */
    int published;          /* POSTs answered with 2xx */
    bool publish_failed;    /* a POST failed: no more will be sent */
    bool publishing;        /* started (ready and, if asked, signalled) */
    bool done_printed;      /* "done" was printed; waiting for the signal */
    bool closing_signalled; /* the second SIGUSR1 came */
};

/* ---- small helpers ---- */

static double clock_ms(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static bool id_parse(const char *s, struct event_id *id) {
    char *end;
    errno = 0;
    id->ms = strtoull(s, &end, 10);
    if (end == s || *end != '-' || errno) return false;
    s = end + 1;
    id->seq = strtoull(s, &end, 10);
    return end != s && *end == '\0' && !errno;
}

static int id_compare(const struct event_id *a, const struct event_id *b) {
    if (a->ms != b->ms) return a->ms < b->ms ? -1 : 1;
    if (a->seq != b->seq) return a->seq < b->seq ? -1 : 1;
    return 0;
}

/* The top-level "timestamp" of a message's JSON (its last key), or -1. A
 * "timestamp" inside the text is escaped (\"timestamp\":) and never matches. */
static long long timestamp_of(const char *json) {
    static const char key[] = "\"timestamp\":";
    const char *p, *last = NULL;
    for (p = json; (p = strstr(p, key)); p++)
        last = p;
    if (!last) return -1;
    char *end;
    long long ts = strtoll(last + sizeof(key) - 1, &end, 10);
    return end == last + sizeof(key) - 1 || ts < 0 ? -1 : ts;
}

/* The "bench-seq=<i> sent-us=<us>" that --publish put into the text: 0 and
 * *seq, *sent_ms, or -1 when the data has none. */
static int marker_of(const char *data, long long *seq, double *sent_ms) {
    const char *p = strstr(data, SEQ_KEY);
    if (!p) return -1;
    char *end;
    *seq = strtoll(p + sizeof(SEQ_KEY) - 1, &end, 10);
    if (end == p + sizeof(SEQ_KEY) - 1 || strncmp(end, SENT_KEY, sizeof(SENT_KEY) - 1) != 0)
        return -1;
    const char *us = end + sizeof(SENT_KEY) - 1;
    long long v = strtoll(us, &end, 10);
    if (end == us || v <= 0) return -1;
    *sent_ms = (double)v / 1e3;
    return 0;
}

/* Appends to a growing array of elements of the given size; -1 without memory. */
static int array_grow(void **items, size_t *cap, size_t n, size_t size) {
    if (n < *cap) return 0;
    size_t ncap = *cap ? *cap * 2 : 64;
    void *p = realloc(*items, ncap * size);
    if (!p) return -1;
    *items = p;
    *cap = ncap;
    return 0;
}

/* ---- what the events tell ---- */

static void check_progress(struct load *ld);

/* The message's entry, added when first seen (searched from the newest;
 * published messages are found at once by their seq). */
static struct msg_stat *msg_stat_of(struct load *ld, const struct event_id *id) {
    if (ld->opt.publish_url && id->ms >= 1 && id->ms <= ld->nmsgs &&
        id_compare(&ld->msgs[id->ms - 1].id, id) == 0)
        return &ld->msgs[id->ms - 1];
    for (size_t i = ld->nmsgs; i-- > 0;)
        if (id_compare(&ld->msgs[i].id, id) == 0) return &ld->msgs[i];
    if (array_grow((void **)&ld->msgs, &ld->capmsgs, ld->nmsgs, sizeof(*ld->msgs)) < 0) return NULL;
    struct msg_stat *m = &ld->msgs[ld->nmsgs++];
    *m = (struct msg_stat){.id = *id};
    return m;
}

static void note_complete(struct conn *c) {
    if (c->complete || c->events < c->ld->opt.messages) return;
    c->complete = true;
    c->ld->complete++;
    check_progress(c->ld);
}

/* An event that came in order, latency ms after its message was received. */
static void deliver(struct conn *c, double latency) {
    struct load *ld = c->ld;
    c->last_id = c->cur_id;
    c->events++;
    if (array_grow((void **)&ld->lat, &ld->caplat, ld->nlat, sizeof(*ld->lat)) == 0)
        ld->lat[ld->nlat++] = latency;
    struct msg_stat *m = msg_stat_of(ld, &c->cur_id);
    if (m) {
        m->deliveries++;
        if (latency > m->last_ms) m->last_ms = latency;
    }
    note_complete(c);
}

/* The blank line that ends an event: ordered by the bench-seq when we
 * published, by the SSE id otherwise. */
static void end_event(struct conn *c) {
    struct load *ld = c->ld;
    if (c->cur_data) {
        ld->received++;
        if (ld->opt.publish_url) {
            if (c->cur_seq < 0 || c->cur_sent_ms < 0)
                ld->malformed++;
            else if (c->cur_seq <= c->last_seq)
                ld->disordered++;
            else {
                c->last_seq = c->cur_seq;
                c->cur_id = (struct event_id){(uint64_t)c->cur_seq, 0};
                deliver(c, clock_ms(CLOCK_REALTIME) - c->cur_sent_ms);
            }
        } else if (!c->cur_has_id || c->cur_sent_ms < 0)
            ld->malformed++;
        else if (id_compare(&c->cur_id, &c->last_id) <= 0)
            ld->disordered++;
        else
            deliver(c, clock_ms(CLOCK_REALTIME) - c->cur_sent_ms);
    }
    c->cur_data = c->cur_has_id = false;
    c->cur_sent_ms = -1;
    c->cur_seq = -1;
}

static void start_stream(struct conn *c) {
    if (c->started) return;
    c->started = true;
    c->ld->started++;
    note_complete(c); /* with M = 0 there is nothing more to wait for */
    check_progress(c->ld);
}

/* One line of the event stream: the first one starts it; ':' comments and
 * other fields are ignored. */
static void on_sse_line(struct conn *c, const char *line) {
    start_stream(c);
    if (line[0] == '\0') {
        end_event(c);
    } else if (strncmp(line, "id:", 3) == 0) {
        c->cur_has_id = id_parse(line + 3 + (line[3] == ' '), &c->cur_id);
    } else if (strncmp(line, "data:", 5) == 0) {
        c->cur_data = true;
        if (marker_of(line + 5, &c->cur_seq, &c->cur_sent_ms) < 0) {
            long long ts = timestamp_of(line + 5);
            c->cur_seq = -1;
            c->cur_sent_ms = ts < 0 ? -1 : (double)ts;
        }
    }
}

/* ---- reading the HTTP response ---- */

/* The status line or a header; -1 if the answer is not a 200 (a 101 for a
 * WebSocket). */
static int on_header_line(struct conn *c, const char *line) {
    int status = 0, wanted = c->ld->opt.ws ? 101 : 200;
    if (c->phase == PHASE_STATUS) {
        if (sscanf(line, "HTTP/%*d.%*d %d", &status) != 1 || status != wanted) return -1;
        c->phase = PHASE_HEADERS;
    } else if (line[0] == '\0') {
        c->phase = PHASE_BODY;
    } else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0 && strcasestr(line, "chunked")) {
        c->chunked = true;
    }
    return 0;
}

static int read_headers(struct conn *c, struct evbuffer *in, char **bad_line) {
    char *line;
    size_t len;
    while (c->phase != PHASE_BODY && (line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF))) {
        if (on_header_line(c, line) < 0) {
            *bad_line = line;
            return -1;
        }
        free(line);
    }
    return 0;
}

/* A chunk-size line or the CRLF after a chunk's data: 0, 1 for the last
 * chunk (the stream ended), -1 if malformed. */
static int on_chunk_line(struct conn *c, const char *line) {
    if (c->chunk == CHUNK_END) {
        c->chunk = CHUNK_SIZE;
        return line[0] == '\0' ? 0 : -1;
    }
    char *end;
    errno = 0;
    unsigned long long size = strtoull(line, &end, 16);
    if (end == line || errno) return -1;
    if (size == 0) return 1;
    c->chunk_left = (size_t)size;
    c->chunk = CHUNK_DATA;
    return 0;
}

/* Moves the data of complete or partial chunks from in to c->body. */
static int dechunk(struct conn *c, struct evbuffer *in) {
    for (;;) {
        if (c->chunk == CHUNK_DATA) {
            size_t n = evbuffer_get_length(in);
            if (n > c->chunk_left) n = c->chunk_left;
            evbuffer_remove_buffer(in, c->body, n);
            c->chunk_left -= n;
            if (c->chunk_left) return 0;
            c->chunk = CHUNK_END;
        }
        size_t len;
        char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
        if (!line) return 0;
        int rc = on_chunk_line(c, line);
        free(line);
        if (rc) return rc;
    }
}

static void read_sse_lines(struct conn *c) {
    char *line;
    size_t len;
    while (c->phase == PHASE_BODY && (line = evbuffer_readln(c->body, &len, EVBUFFER_EOL_CRLF))) {
        on_sse_line(c, line);
        free(line);
    }
}

/* ---- connections ---- */

static void conn_release(struct conn *c) {
    if (c->bev) bufferevent_free(c->bev);
    if (c->body) evbuffer_free(c->body);
    c->bev = NULL;
    c->body = NULL;
}

/* The stream is over for us: says why (for the first few), counts it. */
static void conn_lost(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void conn_lost(struct conn *c, const char *fmt, ...) {
    struct load *ld = c->ld;
    if (c->phase == PHASE_CLOSED) return;
    c->phase = PHASE_CLOSED;
    conn_release(c);
    if (ld->errors_shown++ < ERRORS_SHOWN) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "sse_load: stream %d: ", c->index);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
    if (!c->started)
        ld->failed++;
    else if (!c->complete)
        ld->lost++;
    check_progress(ld);
}

/* ---- WebSocket subscribers (a ws:// URL) ---- */

/* One frame from the client: masked, as RFC 6455 wants of clients. */
static void ws_send_frame(struct conn *c, unsigned opcode, const char *data, size_t len) {
    unsigned char head[8] = {(unsigned char)(0x80 | opcode)};
    size_t n = 2;
    if (len < 126) {
        head[1] = (unsigned char)(0x80 | len);
    } else { /* what this client sends stays under 64 KB */
        head[1] = 0x80 | 126;
        head[2] = (unsigned char)(len >> 8);
        head[3] = (unsigned char)len;
        n = 4;
    }
    uint32_t key = (uint32_t)random();
    unsigned char mask[4];
    memcpy(mask, &key, sizeof(mask));
    struct evbuffer *out = bufferevent_get_output(c->bev);
    evbuffer_add(out, head, n);
    evbuffer_add(out, mask, sizeof(mask));
    unsigned char masked[256];
    for (size_t at = 0; at < len; at += sizeof(masked)) {
        size_t k = len - at < sizeof(masked) ? len - at : sizeof(masked);
        for (size_t i = 0; i < k; i++)
            masked[i] = (unsigned char)data[at + i] ^ mask[(at + i) % 4];
        evbuffer_add(out, masked, k);
    }
}

/* The string value of the first "key":"..." in json (no escapes in it: the
 * types and ids this reads); false when absent or too long. */
static bool json_string_of(const char *json, const char *key, char *out, size_t cap) {
    char pattern[32];
    snprintf(pattern, sizeof(pattern), "\"%s\":\"", key);
    const char *p = strstr(json, pattern);
    if (!p) return false;
    p += strlen(pattern);
    size_t len = strcspn(p, "\"");
    if (p[len] != '"' || len >= cap) return false;
    memcpy(out, p, len);
    out[len] = '\0';
    return true;
}

/* A text message from the server: "ready" asks for the room, "subscribed"
 * starts the stream, "message" is an event as an SSE event with its id and
 * data would be. */
static void on_ws_message(struct conn *c, const char *json) {
    char type[32], id[64];
    if (!json_string_of(json, "type", type, sizeof(type))) return;
    if (strcmp(type, "ready") == 0) {
        static const char subscribe[] = "{\"type\":\"subscribe\",\"room\":\"" WS_ROOM "\"}";
        ws_send_frame(c, 0x1, subscribe, sizeof(subscribe) - 1);
    } else if (strcmp(type, "subscribed") == 0) {
        start_stream(c);
    } else if (strcmp(type, "error") == 0) {
        conn_lost(c, "answered %s", json);
    } else if (strcmp(type, "message") == 0) {
        c->cur_data = true;
        c->cur_has_id = json_string_of(json, "id", id, sizeof(id)) && id_parse(id, &c->cur_id);
        if (marker_of(json, &c->cur_seq, &c->cur_sent_ms) < 0) {
            long long ts = timestamp_of(json);
            c->cur_seq = -1;
            c->cur_sent_ms = ts < 0 ? -1 : (double)ts;
        }
        end_event(c);
    }
}

/* One whole frame of the server's, header already parsed: 0, or -1 when it
 * ends the stream. */
static int on_ws_frame(struct conn *c, unsigned opcode, char *payload, size_t len) {
    switch (opcode) {
    case 0x1: /* text */
        payload[len] = '\0';
        on_ws_message(c, payload);
        return 0;
    case 0x9: /* ping: the pong carries its payload */
        ws_send_frame(c, 0xA, payload, len);
        return 0;
    case 0xA: /* pong */
        return 0;
    case 0x8: /* close */
        conn_lost(c, "the server closed the WebSocket (%d)",
                  len >= 2 ? ((unsigned char)payload[0] << 8) | (unsigned char)payload[1] : 1005);
        return -1;
    default:
        conn_lost(c, "a frame with opcode %u", opcode);
        return -1;
    }
}

/* Takes every whole frame out of c->body. */
static void read_ws_frames(struct conn *c) {
    while (c->phase == PHASE_BODY) {
        size_t have = evbuffer_get_length(c->body);
        unsigned char *h = evbuffer_pullup(c->body, have < 10 ? (ssize_t)have : 10);
        if (have < 2) return;
        size_t head = 2, len = h[1] & 0x7f;
        if (len == 126) {
            head = 4;
            if (have < head) return;
            len = (size_t)h[2] << 8 | h[3];
        } else if (len == 127) {
            head = 10;
            if (have < head) return;
            len = 0;
            for (int i = 2; i < 10; i++)
                len = len << 8 | h[i];
        }
        unsigned opcode = h[0] & 0x0f;
        if (!(h[0] & 0x80) || (h[1] & 0x80) || len > WS_FRAME_MAX) {
            conn_lost(c, "a fragmented, masked or over-long frame");
            return;
        }
        if (have < head + len) return;
        char payload[WS_FRAME_MAX + 1];
        evbuffer_drain(c->body, head);
        evbuffer_remove(c->body, payload, len);
        if (on_ws_frame(c, opcode, payload, len) < 0) return;
    }
}

static void on_read(struct bufferevent *bev, void *arg) {
    struct conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    char *bad = NULL;
    if (c->phase < PHASE_BODY && read_headers(c, in, &bad) < 0) {
        conn_lost(c, "answered \"%s\"", bad);
        free(bad);
        return;
    }
    if (c->phase != PHASE_BODY) return;
    if (c->ld->opt.ws) {
        evbuffer_add_buffer(c->body, in);
        read_ws_frames(c);
        return;
    }
    int rc = c->chunked ? dechunk(c, in) : evbuffer_add_buffer(c->body, in);
    read_sse_lines(c);
    if (rc > 0)
        conn_lost(c, "the server ended the stream");
    else if (rc < 0)
        conn_lost(c, "unreadable body (malformed chunk?)");
}

static void on_conn_event(struct bufferevent *bev, short what, void *arg) {
    struct conn *c = arg;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED) return;
    if (what & BEV_EVENT_EOF)
        conn_lost(c, "the server closed the connection");
    else
        conn_lost(c, "%s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

static void conn_open(struct load *ld, struct conn *c) {
    c->phase = PHASE_STATUS;
    c->bev = bufferevent_socket_new(ld->base, -1, BEV_OPT_CLOSE_ON_FREE);
    c->body = evbuffer_new();
    if (!c->bev || !c->body) {
        conn_lost(c, "out of memory");
        return;
    }
    bufferevent_setcb(c->bev, on_read, NULL, on_conn_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    if (ld->opt.ws)
        evbuffer_add_printf(bufferevent_get_output(c->bev),
                            "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                            "Sec-WebSocket-Key: %s\r\n%s%s\r\n",
                            ld->tgt.path, ld->tgt.host, WS_KEY,
                            ld->opt.header ? ld->opt.header : "", ld->opt.header ? "\r\n" : "");
    else
        evbuffer_add_printf(bufferevent_get_output(c->bev),
                            "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n",
                            ld->tgt.path, ld->tgt.host);
    /* A failure here has usually run on_conn_event already; conn_lost is
     * then a no-op. */
    if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&ld->tgt.addr, (int)ld->tgt.addrlen) <
        0)
        conn_lost(c, "cannot connect: %s", strerror(errno));
}

/* Opens as many connections as the connect rate allows by now. */
static void on_tick(evutil_socket_t fd, short what, void *arg) {
    struct load *ld = arg;
    (void)fd, (void)what;
    double elapsed_s = (clock_ms(CLOCK_MONOTONIC) - ld->t0) / 1e3;
    long long due = (long long)(elapsed_s * ld->opt.connect_rate) + 1;
    if (due > ld->opt.subscribers) due = ld->opt.subscribers;
    while (ld->opened < due) {
        struct conn *c = &ld->conns[ld->opened++];
        conn_open(ld, c);
    }
    if (ld->opened == ld->opt.subscribers) event_del(ld->tick);
}

/* ---- the phases: connecting, then waiting for the events ---- */

static void arm_deadline(struct load *ld) {
    struct timeval tv = {ld->opt.timeout_s, 0};
    event_add(ld->deadline, &tv);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg) {
    struct load *ld = arg;
    (void)fd, (void)what;
    ld->timed_out = true;
    if (!ld->ready)
        fprintf(stderr, "sse_load: timed out: %d of %d streams started within %d s\n", ld->started,
                ld->opt.subscribers, ld->opt.timeout_s);
    else
        fprintf(stderr, "sse_load: timed out: %d of %d streams got their %d events within %d s\n",
                ld->complete, ld->opt.subscribers, ld->opt.messages, ld->opt.timeout_s);
    event_base_loopbreak(ld->base);
}

/* ---- publishing (--publish) ---- */

static void publish_next(struct load *ld);

static void publish_failed(struct load *ld, struct bufferevent *bev, const char *why) {
    fprintf(stderr, "sse_load: POST %s (message %d): %s\n", ld->opt.publish_url, ld->published + 1,
            why);
    bufferevent_free(bev);
    ld->publish_failed = true;
    event_base_loopbreak(ld->base);
}

static void on_gap(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    publish_next(arg);
}

/* The answer to a POST has been read to its end (the server closes). */
static void on_publish_event(struct bufferevent *bev, short what, void *arg) {
    struct load *ld = arg;
    if (what & BEV_EVENT_CONNECTED) {
        /* The send time is taken now, when the request is written. */
        char body[128];
        int len = snprintf(body, sizeof(body), "{\"text\":\"" SEQ_KEY "%d" SENT_KEY "%.0f\"}",
                           ld->published + 1, clock_ms(CLOCK_REALTIME) * 1e3);
        evbuffer_add_printf(bufferevent_get_output(bev),
                            "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                            "Content-Length: %d\r\nConnection: close\r\n%s%s\r\n%s",
                            ld->pub.path, ld->pub.host, len, ld->opt.header ? ld->opt.header : "",
                            ld->opt.header ? "\r\n" : "", body);
        return;
    }
    if (!(what & BEV_EVENT_EOF)) {
        publish_failed(ld, bev, evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        return;
    }
    char *line = evbuffer_readln(bufferevent_get_input(bev), NULL, EVBUFFER_EOL_CRLF);
    int status = 0;
    if (!line || sscanf(line, "HTTP/%*d.%*d %d", &status) != 1 || status < 200 || status > 299) {
        publish_failed(ld, bev, line ? line : "no answer");
        free(line);
        return;
    }
    free(line);
    bufferevent_free(bev);
    ld->published++;
    check_progress(ld);
    struct timeval tv = {ld->opt.gap_ms / 1000, (ld->opt.gap_ms % 1000) * 1000};
    event_add(ld->gap, &tv);
}

static void publish_next(struct load *ld) {
    if (ld->published >= ld->opt.messages) return;
    struct bufferevent *bev = bufferevent_socket_new(ld->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        fprintf(stderr, "sse_load: out of memory\n");
        event_base_loopbreak(ld->base);
        return;
    }
    bufferevent_setcb(bev, NULL, NULL, on_publish_event, ld);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    bufferevent_setwatermark(bev, EV_READ, 0, 0);
    if (bufferevent_socket_connect(bev, (struct sockaddr *)&ld->pub.addr, (int)ld->pub.addrlen) < 0)
        publish_failed(ld, bev, "cannot connect");
}

static void start_publishing(struct load *ld) {
    if (ld->publishing) return;
    ld->publishing = true;
    arm_deadline(ld); /* the time for the events starts now */
    publish_next(ld);
}

/* SIGUSR1 (--wait-signal): the go-ahead to publish, then to close. */
static void on_sigusr1(evutil_socket_t fd, short what, void *arg) {
    struct load *ld = arg;
    (void)fd, (void)what;
    if (ld->ready && !ld->publishing) {
        start_publishing(ld);
    } else if (ld->done_printed) {
        ld->closing_signalled = true;
        event_base_loopbreak(ld->base);
    }
}

/* Prints "ready" once every stream has started; ends the run when nothing
 * more can happen. */
static void check_progress(struct load *ld) {
    int n = ld->opt.subscribers;
    if (!ld->ready && ld->started == n) {
        ld->ready = true;
        fprintf(stderr, "sse_load: %d streams started in %.1f s\n", n,
                (clock_ms(CLOCK_MONOTONIC) - ld->t0) / 1e3);
        printf("ready %d\n", n);
        fflush(stdout);
        getrusage(RUSAGE_SELF, &ld->ru_ready);
        arm_deadline(ld);
        if (ld->opt.publish_url && !ld->opt.wait_signal) start_publishing(ld);
    }
    if (!ld->ready && ld->started + ld->failed == n) {
        fprintf(stderr, "sse_load: only %d of %d streams started\n", ld->started, n);
        event_base_loopbreak(ld->base);
    }
    bool posts_over =
        !ld->opt.publish_url || ld->published == ld->opt.messages || ld->publish_failed;
    if (ld->ready && ld->complete + ld->lost == n && posts_over) {
        if (ld->opt.wait_signal && ld->opt.publish_url && ld->lost == 0) {
            if (!ld->done_printed) {
                ld->done_printed = true;
                event_del(ld->deadline);
                printf("done\n");
                fflush(stdout);
            }
        } else {
            event_base_loopbreak(ld->base);
        }
    }
}

/* ---- the summary ---- */

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The nearest-rank percentile (permille: 500 = p50) of a sorted array, as
 * text ("-" when empty). */
static const char *percentile(char out[32], const double *v, size_t n, unsigned permille) {
    if (n == 0) return strcpy(out, "-");
    size_t rank = (permille * n + 999) / 1000;
    snprintf(out, 32, "%.1f", v[rank ? rank - 1 : 0]);
    return out;
}

/* The latency distribution for a plot: "<fraction> <ms>", 1,000 quantiles of
 * the sorted latencies (nearest rank). */
static void write_cdf(const struct load *ld) {
    FILE *f = fopen(ld->opt.cdf_path, "w");
    if (!f) {
        fprintf(stderr, "sse_load: cannot write %s: %s\n", ld->opt.cdf_path, strerror(errno));
        return;
    }
    for (unsigned k = 1; ld->nlat && k <= CDF_POINTS; k++) {
        size_t rank = (k * ld->nlat + CDF_POINTS - 1) / CDF_POINTS;
        fprintf(f, "%.3f %.3f\n", (double)k / CDF_POINTS, ld->lat[rank ? rank - 1 : 0]);
    }
    fclose(f);
}

static void print_latencies(struct load *ld) {
    char a[32], b[32], c[32], d[32];
    qsort(ld->lat, ld->nlat, sizeof(*ld->lat), compare_double);
    printf("latency_ms p50 %s p99 %s p99.9 %s max %s\n", percentile(a, ld->lat, ld->nlat, 500),
           percentile(b, ld->lat, ld->nlat, 990), percentile(c, ld->lat, ld->nlat, 999),
           percentile(d, ld->lat, ld->nlat, 1000));
    if (ld->opt.cdf_path) write_cdf(ld);
    double *last = malloc((ld->nmsgs ? ld->nmsgs : 1) * sizeof(*last));
    if (!last) return;
    for (size_t i = 0; i < ld->nmsgs; i++)
        last[i] = ld->msgs[i].last_ms;
    qsort(last, ld->nmsgs, sizeof(*last), compare_double);
    printf("last_subscriber_ms messages %zu p50 %s max %s\n", ld->nmsgs,
           percentile(a, last, ld->nmsgs, 500), percentile(b, last, ld->nmsgs, 1000));
    free(last);
}

static double cpu_ms(const struct timeval *now, const struct timeval *then) {
    return (double)(now->tv_sec - then->tv_sec) * 1e3 +
           (double)(now->tv_usec - then->tv_usec) / 1e3;
}

/* Our own CPU time since "ready": is the load tool the bound? */
static void print_cpu(const struct load *ld) {
    struct rusage ru;
    if (!ld->ready || getrusage(RUSAGE_SELF, &ru) < 0) return;
    printf("cpu_ms_after_ready user %.0f sys %.0f\n", cpu_ms(&ru.ru_utime, &ld->ru_ready.ru_utime),
           cpu_ms(&ru.ru_stime, &ld->ru_ready.ru_stime));
}

static void print_summary(struct load *ld) {
    int n = ld->opt.subscribers, m = ld->opt.messages;
    long long taken = 0;
    for (int i = 0; i < n; i++)
        taken += ld->conns[i].events < m ? ld->conns[i].events : m;
    printf("subscribers %d started %d complete %d failed %d closed %d\n", n, ld->started,
           ld->complete, ld->failed, ld->lost);
    printf("events %lld expected %lld missing %lld out_of_order %lld malformed %lld\n",
           ld->received, (long long)n * m, (long long)n * m - taken, ld->disordered, ld->malformed);
    if (ld->opt.publish_url) printf("published %d\n", ld->published);
    print_latencies(ld);
    print_cpu(ld);
    fflush(stdout);
}

static bool load_succeeded(const struct load *ld) {
    return ld->ready && !ld->timed_out && ld->complete == ld->opt.subscribers && ld->lost == 0 &&
           ld->disordered == 0 && ld->malformed == 0 &&
           (!ld->opt.publish_url || ld->published == ld->opt.messages);
}

/* ---- setup ---- */

static void usage(void) {
    fprintf(
        stderr,
        "usage: sse_load --url http://HOST:PORT/message/stream --subscribers N\n"
        "       (or --url ws://HOST:PORT/ws: WebSocket subscribers of the lobby)\n"
        "                [--messages M] [--connect-rate R] [--timeout S]\n"
        "                [--publish URL [--header H] [--gap-ms G] [--wait-signal]] [--cdf FILE]\n"
        "  --messages M      events each stream must get (alias --expect; default 20)\n"
        "  --publish URL     POST the M messages there, each carrying its send time\n"
        "  --header H        an extra header line for those POSTs (\"Cookie: ...\")\n"
        "                    and the WebSocket upgrades\n"
        "  --gap-ms G        ms between two POSTs (default 200)\n"
        "  --wait-signal     SIGUSR1 before publishing, and again before closing\n"
        "  --cdf FILE        write 1,000 latency quantiles \"<fraction> <ms>\" there\n"
        "  --connect-rate R  connections opened per second (default 2000)\n"
        "  --timeout S       seconds for connecting, and again for the events (default 60)\n"
        "Prints \"ready N\" once every stream started, then a summary; see the source.\n");
}

static int parse_int(const char *s, int min, const char *name, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < min || v > 10000000) {
        fprintf(stderr, "sse_load: --%s must be an integer >= %d, got '%s'\n", name, min, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_options(int argc, char **argv, struct options *o) {
    static const struct option longopts[] = {{"url", required_argument, NULL, 'u'},
                                             {"subscribers", required_argument, NULL, 'n'},
                                             {"messages", required_argument, NULL, 'm'},
                                             {"expect", required_argument, NULL, 'm'},
                                             {"connect-rate", required_argument, NULL, 'r'},
                                             {"timeout", required_argument, NULL, 't'},
                                             {"publish", required_argument, NULL, 'p'},
                                             {"header", required_argument, NULL, 'H'},
                                             {"gap-ms", required_argument, NULL, 'g'},
                                             {"wait-signal", no_argument, NULL, 'w'},
                                             {"cdf", required_argument, NULL, 'c'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    *o = (struct options){.messages = 20, .connect_rate = 2000, .timeout_s = 60, .gap_ms = 200};
    int ch, rc = 0;
    while (rc == 0 && (ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'u':
            o->url = optarg;
            break;
        case 'n':
            rc = parse_int(optarg, 1, "subscribers", &o->subscribers);
            break;
        case 'm':
            rc = parse_int(optarg, 0, "messages", &o->messages);
            break;
        case 'r':
            rc = parse_int(optarg, 1, "connect-rate", &o->connect_rate);
            break;
        case 't':
            rc = parse_int(optarg, 1, "timeout", &o->timeout_s);
            break;
        case 'p':
            o->publish_url = optarg;
            break;
        case 'H':
            o->header = optarg;
            break;
        case 'g':
            rc = parse_int(optarg, 0, "gap-ms", &o->gap_ms);
            break;
        case 'w':
            o->wait_signal = true;
            break;
        case 'c':
            o->cdf_path = optarg;
            break;
        default:
            rc = -1;
        }
    }
    if (rc == 0 && (!o->url || !o->subscribers || optind != argc)) rc = -1;
    if (rc == 0 && o->wait_signal && !o->publish_url) rc = -1;
    if (rc == 0 && o->header && !o->publish_url && strncmp(o->url, "ws://", 5) != 0) rc = -1;
    if (rc < 0) usage();
    return rc;
}

/* Resolves the host[:port] of the URL (an IPv6 address goes in brackets). */
static int resolve(struct target *t) {
    char name[sizeof(t->host)];
    snprintf(name, sizeof(name), "%s", t->host);
    char *host = name, *port = "80", *colon = strrchr(name, ':');
    if (colon && !strchr(colon, ']')) {
        *colon = '\0';
        port = colon + 1;
    }
    if (host[0] == '[') {
        host++;
        host[strcspn(host, "]")] = '\0';
    }
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc) {
        fprintf(stderr, "sse_load: cannot resolve %s: %s\n", t->host, gai_strerror(rc));
        return -1;
    }
    memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
    t->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* An http:// URL, or a ws:// one when ws is not NULL (*ws says which). */
static int parse_url(const char *url, struct target *t, bool *ws) {
    static const char scheme[] = "http://", ws_scheme[] = "ws://";
    const char *host;
    if (strncmp(url, scheme, sizeof(scheme) - 1) == 0) {
        host = url + sizeof(scheme) - 1;
    } else if (ws && strncmp(url, ws_scheme, sizeof(ws_scheme) - 1) == 0) {
        host = url + sizeof(ws_scheme) - 1;
        *ws = true;
    } else {
        fprintf(stderr, "sse_load: the URL must start with %s%s\n", scheme, ws ? " or ws://" : "");
        return -1;
    }
    const char *slash = strchr(host, '/');
    size_t len = slash ? (size_t)(slash - host) : strlen(host);
    if (len == 0 || len >= sizeof(t->host)) {
        fprintf(stderr, "sse_load: no usable host in %s\n", url);
        return -1;
    }
    memcpy(t->host, host, len);
    t->host[len] = '\0';
    snprintf(t->path, sizeof(t->path), "%s", slash ? slash : "/");
    return resolve(t);
}

/* Raises the open-file limit to the hard limit; -1 if need does not fit. */
static int raise_fd_limit(int need) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return -1;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        perror("sse_load: setrlimit(RLIMIT_NOFILE)");
        return -1;
    }
    if (rl.rlim_max != RLIM_INFINITY && (rlim_t)need > rl.rlim_max) {
        fprintf(stderr,
                "sse_load: %d streams need %d open files, but the hard limit (ulimit -Hn) "
                "is %llu\n",
                need - FD_SPARE, need, (unsigned long long)rl.rlim_max);
        return -1;
    }
    return 0;
}

static int load_init(struct load *ld) {
    int n = ld->opt.subscribers;
    ld->conns = calloc((size_t)n, sizeof(*ld->conns));
    ld->caplat = (size_t)n * (size_t)(ld->opt.messages ? ld->opt.messages : 1);
    ld->lat = malloc(ld->caplat * sizeof(*ld->lat));
    ld->base = event_base_new();
    if (!ld->conns || !ld->lat || !ld->base) return -1;
    ld->tick = event_new(ld->base, -1, EV_PERSIST, on_tick, ld);
    ld->deadline = evtimer_new(ld->base, on_deadline, ld);
    if (!ld->tick || !ld->deadline) return -1;
    for (int i = 0; i < n; i++)
        ld->conns[i] = (struct conn){.ld = ld, .index = i, .cur_sent_ms = -1, .cur_seq = -1};
    if (ld->opt.publish_url) { /* message i has the seq i + 1 */
        ld->capmsgs = ld->nmsgs = (size_t)ld->opt.messages;
        ld->msgs = calloc(ld->nmsgs ? ld->nmsgs : 1, sizeof(*ld->msgs));
        ld->gap = evtimer_new(ld->base, on_gap, ld);
        ld->sigusr1 = evsignal_new(ld->base, SIGUSR1, on_sigusr1, ld);
        if (!ld->msgs || !ld->gap || !ld->sigusr1 || event_add(ld->sigusr1, NULL) < 0) return -1;
        for (size_t i = 0; i < ld->nmsgs; i++)
            ld->msgs[i].id = (struct event_id){i + 1, 0};
    }
    ld->t0 = clock_ms(CLOCK_MONOTONIC);
    struct timeval tv = {0, TICK_MS * 1000};
    event_add(ld->tick, &tv);
    event_active(ld->tick, EV_TIMEOUT, 0);
    arm_deadline(ld);
    return 0;
}

static void load_cleanup(struct load *ld) {
    for (int i = 0; ld->conns && i < ld->opened; i++)
        conn_release(&ld->conns[i]);
    if (ld->tick) event_free(ld->tick);
    if (ld->deadline) event_free(ld->deadline);
    if (ld->gap) event_free(ld->gap);
    if (ld->sigusr1) event_free(ld->sigusr1);
    if (ld->base) event_base_free(ld->base);
    free(ld->conns);
    free(ld->lat);
    free(ld->msgs);
}

int main(int argc, char **argv) {
    struct load ld;
    memset(&ld, 0, sizeof(ld));
    if (parse_options(argc, argv, &ld.opt) < 0 || parse_url(ld.opt.url, &ld.tgt, &ld.opt.ws) < 0 ||
        (ld.opt.publish_url && parse_url(ld.opt.publish_url, &ld.pub, NULL) < 0) ||
        raise_fd_limit(ld.opt.subscribers + FD_SPARE) < 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    if (load_init(&ld) < 0) {
        fprintf(stderr, "sse_load: out of memory\n");
        load_cleanup(&ld);
        return 1;
    }
    event_base_dispatch(ld.base);
    print_summary(&ld);
    int rc = load_succeeded(&ld) ? 0 : 1;
    load_cleanup(&ld);
    return rc;
}
