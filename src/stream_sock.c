/* stream_sock: a client connection's socket, see stream_sock.h. */
#include "stream_sock.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DISCARD_BYTES 16384 /* read (and dropped) per read event */
#define LINGER_S 2 /* an ended socket waits this long for the client's next bytes or FIN */
#define LINGER_BYTES (64u << 20) /* and drops at most this much of its input meanwhile */

/* What waits for the socket; allocated only while something does. */
struct stream_out {
    struct evbuffer *queue;          /* bytes the socket has not taken yet */
    struct event *write_ev;          /* the socket takes more, or the write timeout */
    stream_sock_drained_fn *drained; /* runs once the queue is empty, or NULL */
    void *drained_arg;
};

/* The detached sockets of one HTTP server. */
struct stream_socks {
    struct stream_sock *ending; /* ended sockets still writing, or lingering */
};

struct stream_sock {
    struct stream_socks *set;     /* the set it belongs to */
    int fd;                       /* the socket; -1 once the client is gone */
    int write_timeout_s;          /* a queue that makes no progress this long: gone */
    bool failed;                  /* out of memory: reported as gone from the read event */
    bool ending;                  /* stream_sock_end() ran: written out, then closed */
    bool lingering;               /* written out and shut down: waits for the client's FIN */
    size_t lingered;              /* bytes of input dropped while lingering */
    struct event *read_ev;        /* the client's bytes (dropped) and its going away */
    struct stream_out *out;       /* NULL while nothing is queued */
    stream_sock_gone_fn *on_gone; /* until the stream ends */
    void *arg;
    stream_sock_read_fn *reader;   /* takes the client's bytes, or NULL: dropped */
    void *reader_arg;
    stream_sock_closed_fn *closed; /* once it ended */
    void *closed_arg;
    struct stream_sock *prev, *next; /* ended sockets still writing */
};

struct stream_socks *stream_socks_new(void) { return calloc(1, sizeof(struct stream_socks)); }

static void on_writable(evutil_socket_t fd, short what, void *arg);

static void arm_write(struct stream_sock *s, bool progress) {
    struct timeval tv = {s->write_timeout_s, 0};
    if (progress || !event_pending(s->out->write_ev, EV_WRITE, NULL))
        event_add(s->out->write_ev, &tv);
}

static struct stream_out *out_new(struct stream_sock *s, struct event_base *base) {
    struct stream_out *o = calloc(1, sizeof(*o));
    if (!o) return NULL;
    o->queue = evbuffer_new();
    o->write_ev = event_new(base, s->fd, EV_WRITE, on_writable, s);
    if (o->queue && o->write_ev) return o;
    if (o->queue) evbuffer_free(o->queue);
    if (o->write_ev) event_free(o->write_ev);
    free(o);
    return NULL;
}

/* The queue, made when the first byte waits (NULL: out of memory). */
static struct stream_out *out_of(struct stream_sock *s) {
    if (!s->out) s->out = out_new(s, event_get_base(s->read_ev));
    return s->out;
}

/* Frees the queue; what it still references is released. */
static void drop_out(struct stream_sock *s) {
    if (!s->out) return;
    event_free(s->out->write_ev);
    evbuffer_free(s->out->queue);
    free(s->out);
    s->out = NULL;
}

/* Reports a failure from the read event, never inside the call at hand. */
static void fail_soon(struct stream_sock *s) {
    s->failed = true;
    event_active(s->read_ev, EV_READ, 1);
}

static void close_socket(struct stream_sock *s) {
    if (s->fd < 0) return;
    close(s->fd);
    s->fd = -1;
}

static void unlink_ending(struct stream_sock *s) {
    if (!s->ending) return;
    if (s->prev) s->prev->next = s->next;
    else s->set->ending = s->next;
    if (s->next) s->next->prev = s->prev;
    s->ending = false;
}

static void link_ending(struct stream_sock *s) {
    if (s->ending) return;
    s->ending = true;
    s->prev = NULL;
    s->next = s->set->ending;
    if (s->next) s->next->prev = s;
    s->set->ending = s;
}

/* Everything is written: the FIN goes out, and the socket stays open,
 * dropping what the client still sends, until the client's own FIN (or
 * LINGER_S, or LINGER_BYTES). A close() with unread input would send a
 * reset, which can destroy the last bytes written before the client read
 * them (a WebSocket's close frame). False when it cannot linger. */
static bool start_linger(struct stream_sock *s) {
    struct timeval tv = {LINGER_S, 0};
    if (s->fd < 0 || s->failed || shutdown(s->fd, SHUT_WR) < 0) return false;
    if (event_add(s->read_ev, &tv) < 0) return false;
    s->lingering = true;
    link_ending(s); /* stream_socks_free closes it at shutdown */
    return true;
}

/* An ended socket is done: written out (it then lingers, see start_linger)
 * or given up (closed, unlinked); its closed callback runs either way. */
static void finish(struct stream_sock *s, bool clean) {
    drop_out(s);
    stream_sock_closed_fn *closed = s->closed;
    void *arg = s->closed_arg;
    s->closed = NULL;
    if (!(clean && !s->lingering && start_linger(s))) {
        event_free(s->read_ev);
        close_socket(s);
        unlink_ending(s);
        free(s);
    }
    if (closed) closed(arg);
}

/* The client is gone (or stuck): an ended socket is finished, one in use is
 * closed and its owner told, last. */
static void lost(struct stream_sock *s) {
    if (s->ending) {
        finish(s, false);
        return;
    }
    drop_out(s);
    event_del(s->read_ev);
    close_socket(s);
    if (s->on_gone) s->on_gone(s->arg);
}

static bool would_block(void) { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR; }

/* A lingering socket's input: dropped until its end, the timeout or the
 * limit, then the socket is closed. */
static void on_lingering(struct stream_sock *s, int fd, short what) {
    char drop[DISCARD_BYTES];
    ssize_t n = (what & EV_TIMEOUT) ? 0 : recv(fd, drop, sizeof(drop), 0);
    if (n > 0) s->lingered += (size_t)n;
    if (n > 0 && s->lingered <= LINGER_BYTES) {
        struct timeval tv = {LINGER_S, 0}; /* the client is still sending: wait on */
        event_add(s->read_ev, &tv);
        return;
    }
    if (n < 0 && would_block()) return;
    finish(s, false);
}

static void on_readable(evutil_socket_t fd, short what, void *arg) {
    struct stream_sock *s = arg;
    if (s->lingering) {
        on_lingering(s, fd, what);
        return;
    }
    if (!s->failed && s->reader) {
        int verdict = s->reader(s->reader_arg);
        if (verdict >= 0) return; /* 1: s may be gone */
    } else if (!s->failed) {
        char drop[DISCARD_BYTES];
        ssize_t n = recv(fd, drop, sizeof(drop), 0);
        if (n > 0 || (n < 0 && would_block())) return;
    }
    lost(s);
}

static void on_writable(evutil_socket_t fd, short what, void *arg) {
    struct stream_sock *s = arg;
    if (what & EV_TIMEOUT) {
        lost(s);
        return;
    }
    int n = evbuffer_write(s->out->queue, fd);
    if (n < 0 && !would_block()) {
        lost(s);
        return;
    }
    if (evbuffer_get_length(s->out->queue) > 0) {
        arm_write(s, n > 0);
        return;
    }
    stream_sock_drained_fn *drained = s->out->drained;
    void *drained_arg = s->out->drained_arg;
    drop_out(s);
    if (s->ending) finish(s, true);
    else if (drained) drained(NULL, drained_arg);
}

/* Queues buf's bytes behind what is queued; false when they are dropped
 * (the client is gone, or out of memory: the owner hears of it). */
static bool queue(struct stream_sock *s, struct evbuffer *buf) {
    if (s->fd < 0 || s->failed) {
        evbuffer_drain(buf, evbuffer_get_length(buf));
        return false;
    }
    if (!out_of(s) || evbuffer_add_buffer(s->out->queue, buf) < 0) {
        evbuffer_drain(buf, evbuffer_get_length(buf));
        fail_soon(s);
        return false;
    }
    arm_write(s, false);
    return true;
}

struct stream_sock *stream_sock_open(struct stream_socks *set, struct event_base *base, int fd,
                                     int write_timeout_s, stream_sock_gone_fn *on_gone, void *arg) {
    struct stream_sock *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    *s = (struct stream_sock){.set = set, .fd = fd, .write_timeout_s = write_timeout_s,
                              .on_gone = on_gone, .arg = arg};
    s->read_ev = event_new(base, fd, EV_READ | EV_PERSIST, on_readable, s);
    if (!s->read_ev || event_add(s->read_ev, NULL) < 0) {
        if (s->read_ev) event_free(s->read_ev);
        free(s);
        return NULL;
    }
    return s;
}

void stream_sock_hold_input(struct stream_sock *s, bool hold) {
    if (s->fd < 0 || s->lingering || s->failed) return;
    bool pending = event_pending(s->read_ev, EV_READ, NULL);
    if (hold && pending) event_del(s->read_ev);
    else if (!hold && !pending) event_add(s->read_ev, NULL);
}

void stream_sock_poke(struct stream_sock *s) {
    if (s->fd >= 0 && !s->lingering) event_active(s->read_ev, EV_READ, 1);
}

bool stream_sock_write(struct stream_sock *s, struct evbuffer *buf,
                       stream_sock_drained_fn *drained, void *arg) {
    if (s->fd >= 0 && !s->failed && !s->out) {
        int n = evbuffer_write(buf, s->fd);
        if (n < 0 && !would_block()) {
            evbuffer_drain(buf, evbuffer_get_length(buf));
            fail_soon(s);
            return true; /* nothing waits: the owner hears of the failure */
        }
        if (evbuffer_get_length(buf) == 0) return true;
    }
    if (!queue(s, buf)) return true;
    if (drained) {
        s->out->drained = drained;
        s->out->drained_arg = arg;
    }
    return false;
}

void stream_sock_set_reader(struct stream_sock *s, stream_sock_read_fn *fn, void *arg) {
    s->reader = fn;
    s->reader_arg = arg;
}

ssize_t stream_sock_recv(struct stream_sock *s, void *buf, size_t len) {
    if (s->fd < 0) {
        errno = ECONNRESET;
        return -1;
    }
    return recv(s->fd, buf, len, MSG_DONTWAIT);
}

int stream_sock_fd(const struct stream_sock *s) { return s->fd; }

size_t stream_sock_backlog(const struct stream_sock *s) {
    return s->out ? evbuffer_get_length(s->out->queue) : 0;
}

void stream_sock_send(struct stream_sock *s, struct evbuffer *buf, stream_sock_drained_fn *drained,
                      void *arg) {
    if (!queue(s, buf)) return;
    s->out->drained = drained;
    s->out->drained_arg = arg;
}

void stream_sock_queue_ref(struct stream_sock *s, const char *data, size_t len,
                           evbuffer_ref_cleanup_cb cleanup, void *arg) {
    if (s->fd < 0 || s->failed || !out_of(s)) {
        if (s->fd >= 0 && !s->failed) fail_soon(s);
        cleanup(data, len, arg);
        return;
    }
    if (evbuffer_add_reference(s->out->queue, data, len, cleanup, arg) < 0) {
        if (evbuffer_add(s->out->queue, data, len) < 0) fail_soon(s);
        cleanup(data, len, arg);
    }
    arm_write(s, false);
}

/* Writes what the socket takes of data[0..len) now; the rest goes to the
 * queue. False when out of memory. */
static bool write_tail(struct stream_sock *s, const char *data, size_t len) {
    if (!s->out) {
        ssize_t n = send(s->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n == (ssize_t)len) return true;
        if (n > 0) data += n, len -= (size_t)n;
    }
    if (!out_of(s) || evbuffer_add(s->out->queue, data, len) < 0) return false;
    arm_write(s, false);
    return true;
}

void stream_sock_end(struct stream_sock *s, const char *tail, size_t len,
                     stream_sock_closed_fn *closed, void *arg) {
    s->on_gone = NULL;
    s->reader = NULL; /* what the client still sends is dropped */
    s->closed = closed;
    s->closed_arg = arg;
    bool ok = s->fd >= 0 && !s->failed && (len == 0 || write_tail(s, tail, len));
    if (!ok || !s->out) {
        finish(s, ok);
        return;
    }
    s->out->drained = NULL;
    link_ending(s);
}

void stream_sock_free(struct stream_sock *s) {
    if (!s) return;
    s->closed = NULL;
    finish(s, false);
}

void stream_socks_free(struct stream_socks *set) {
    if (!set) return;
    while (set->ending) {
        struct stream_sock *s = set->ending;
        set->ending = s->next;
        if (set->ending) set->ending->prev = NULL;
        s->ending = false; /* unlinked */
        finish(s, false);
    }
    free(set);
}
