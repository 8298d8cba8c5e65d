/* sse_fanout: one event framed once, sent to many streams, see sse_fanout.h. */
#include "sse_fanout.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "http.h"
#include "log.h"
#include "stream_sock.h"

#define FANOUT_THREADS_MAX 16
#define PARALLEL_MIN 256 /* smaller batches are sent by the loop alone */

/* The bytes of one event, shared by every connection that still queues them. */
struct frame {
    int refs;          /* the batch, plus one per queued reference (loop thread only) */
    size_t head_len;   /* length of the chunk-size line "<hex>\r\n" */
    size_t data_len;   /* length of the event itself */
    char bytes[];      /* chunk-size line, event, "\r\n" */
};

/* One stream of a batch. */
struct target {
    struct stream_sock *sock; /* the stream's socket */
    int fd;                /* its descriptor */
    const char *bytes;     /* what it is sent: the chunk or the bare event */
    size_t len;            /* how many bytes */
    ssize_t sent;          /* send()'s result, filled by whoever sends */
    int err;               /* errno when sent < 0 */
};

/* The pending batch: one frame and the streams to send it straight to. */
struct batch {
    const char *data;       /* the caller's bytes (the key of the batch) */
    size_t len;
    struct frame *frame;    /* NULL when no batch is pending */
    struct target *targets; /* streams whose output buffer was empty */
    size_t count, cap;
};

struct fanout;

/* One helper thread: its fan-out and its slice of every batch. */
struct helper {
    struct fanout *f;
    int part;               /* 1..n; the loop thread is part 0 */
};

/* The helper threads and the batch they work on. */
struct pool {
    pthread_t tid[FANOUT_THREADS_MAX]; /* helpers */
    struct helper helpers[FANOUT_THREADS_MAX];
    int n;                  /* helpers running */
    pthread_mutex_t mu;     /* guards the fields below */
    pthread_cond_t go;      /* a new round (or stop) */
    pthread_cond_t done;    /* the last helper finished its slice */
    unsigned long round;    /* incremented for every batch handed out */
    int busy;               /* helpers still sending this round */
    bool stop;              /* helpers exit */
};

/* One server's fan-out: the batch and the helpers that send it. */
struct fanout {
    struct batch batch;
    struct pool pool;
};

static struct frame *frame_new(const char *data, size_t len) {
    char head[24];
    int h = snprintf(head, sizeof(head), "%zx\r\n", len);
    struct frame *f = malloc(sizeof(*f) + (size_t)h + len + 2);
    if (!f) return NULL;
    f->refs = 1;
    f->head_len = (size_t)h;
    f->data_len = len;
    memcpy(f->bytes, head, (size_t)h);
    memcpy(f->bytes + h, data, len);
    memcpy(f->bytes + h + len, "\r\n", 2);
    return f;
}

static void frame_unref(struct frame *f) {
    if (f && --f->refs == 0) free(f);
}

static void on_reference_done(const void *data, size_t len, void *arg) {
    (void)data, (void)len;
    frame_unref(arg);
}

/* Queues bytes[0..len) of f on a stream's socket, by reference. */
static void queue_on_sock(struct stream_sock *sock, struct frame *f, const char *bytes,
                          size_t len) {
    f->refs++;
    stream_sock_queue_ref(sock, bytes, len, on_reference_done, f);
}

static void send_slice(struct target *t, size_t from, size_t to) {
    for (size_t i = from; i < to; i++) {
        t[i].sent = send(t[i].fd, t[i].bytes, t[i].len, MSG_DONTWAIT | MSG_NOSIGNAL);
        t[i].err = t[i].sent < 0 ? errno : 0;
    }
}

static void slice_bounds(int part, int parts, size_t n, size_t *from, size_t *to) {
    *from = n * (size_t)part / (size_t)parts;
    *to = n * (size_t)(part + 1) / (size_t)parts;
}

static void *helper_main(void *arg) {
    const struct helper *h = arg;
    struct pool *pool = &h->f->pool;
    const struct batch *batch = &h->f->batch;
    unsigned long seen = 0;
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        while (!pool->stop && pool->round == seen) pthread_cond_wait(&pool->go, &pool->mu);
        if (pool->stop) break;
        seen = pool->round;
        size_t from, to;
        slice_bounds(h->part, pool->n + 1, batch->count, &from, &to);
        pthread_mutex_unlock(&pool->mu);
        send_slice(batch->targets, from, to);
        pthread_mutex_lock(&pool->mu);
        if (--pool->busy == 0) pthread_cond_signal(&pool->done);
    }
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

struct fanout *fanout_new(int n) {
    struct fanout *f = calloc(1, sizeof(*f));
    if (!f) return NULL;
    struct pool *pool = &f->pool;
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->go, NULL);
    pthread_cond_init(&pool->done, NULL);
    if (n > FANOUT_THREADS_MAX) n = FANOUT_THREADS_MAX;
    for (int i = 1; i < n; i++) {
        pool->helpers[pool->n] = (struct helper){f, i};
        if (pthread_create(&pool->tid[pool->n], NULL, helper_main, &pool->helpers[pool->n]) != 0) {
            log_error("msg=\"cannot start a fan-out thread\"");
            fanout_free(f);
            return NULL;
        }
        pool->n++;
    }
    return f;
}

void fanout_free(struct fanout *f) {
    if (!f) return;
    struct pool *pool = &f->pool;
    pthread_mutex_lock(&pool->mu);
    pool->stop = true;
    pthread_cond_broadcast(&pool->go);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 0; i < pool->n; i++) pthread_join(pool->tid[i], NULL);
    pthread_cond_destroy(&pool->done);
    pthread_cond_destroy(&pool->go);
    pthread_mutex_destroy(&pool->mu);
    free(f->batch.targets);
    free(f);
}

/* Sends to every target: the loop thread alone, or with the helpers, each
 * taking one slice; returns when all are done. */
static void send_all(struct fanout *f) {
    struct pool *pool = &f->pool;
    struct batch *batch = &f->batch;
    if (pool->n == 0 || batch->count < PARALLEL_MIN) {
        send_slice(batch->targets, 0, batch->count);
        return;
    }
    pthread_mutex_lock(&pool->mu);
    pool->round++;
    pool->busy = pool->n;
    pthread_cond_broadcast(&pool->go);
    pthread_mutex_unlock(&pool->mu);
    size_t from, to;
    slice_bounds(0, pool->n + 1, batch->count, &from, &to);
    send_slice(batch->targets, from, to);
    pthread_mutex_lock(&pool->mu);
    while (pool->busy > 0) pthread_cond_wait(&pool->done, &pool->mu);
    pthread_mutex_unlock(&pool->mu);
}

void fanout_flush(struct fanout *f) {
    struct batch *batch = &f->batch;
    if (!batch->frame) return;
    send_all(f);
    for (size_t i = 0; i < batch->count; i++) {
        struct target *t = &batch->targets[i];
        if (t->sent == (ssize_t)t->len) continue;
        size_t done = t->sent > 0 ? (size_t)t->sent : 0;
        /* Not taken (full socket) or failed: queued, so that the socket's
         * write event sends the rest later or meets the error and ends the
         * stream. */
        queue_on_sock(t->sock, batch->frame, t->bytes + done, t->len - done);
    }
    frame_unref(batch->frame);
    batch->frame = NULL;
    batch->data = NULL;
    batch->count = 0;
}

static int grow_targets(struct batch *batch) {
    size_t cap = batch->cap ? batch->cap * 2 : 1024;
    struct target *t = realloc(batch->targets, cap * sizeof(*t));
    if (!t) return -1;
    batch->targets = t;
    batch->cap = cap;
    return 0;
}

void fanout_add(struct fanout *f, struct request *r, const char *data, size_t len) {
    struct batch *batch = &f->batch;
    if (len == 0 || !r->streaming || r->bodyless) return;
    int fd = r->sock ? stream_sock_fd(r->sock) : -1;
    if (fd < 0) return; /* the client is gone: the stream hears of it */
    if (batch->frame && (batch->data != data || batch->len != len)) fanout_flush(f);
    if (!batch->frame) {
        if (!(batch->frame = frame_new(data, len))) return;
        batch->data = data;
        batch->len = len;
    }
    struct frame *fr = batch->frame;
    const char *bytes = r->chunked ? fr->bytes : fr->bytes + fr->head_len;
    size_t n = r->chunked ? fr->head_len + fr->data_len + 2 : fr->data_len;
    if (stream_sock_backlog(r->sock) > 0 ||
        (batch->count == batch->cap && grow_targets(batch) < 0)) {
        queue_on_sock(r->sock, fr, bytes, n); /* behind what is queued already */
        return;
    }
    batch->targets[batch->count++] = (struct target){.sock = r->sock, .fd = fd, .bytes = bytes,
                                                     .len = n};
}

void fanout_write(struct fanout *f, struct request *r, const char *data, size_t len) {
    fanout_flush(f);
    fanout_add(f, r, data, len);
    fanout_flush(f);
}

int fanout_send_one(struct request *r, const char *data, size_t len) {
    if (len == 0 || !r->streaming || r->bodyless) return 0;
    int fd = r->sock ? stream_sock_fd(r->sock) : -1;
    if (fd < 0) return 0; /* the client is gone: the stream hears of it */
    struct frame *f = frame_new(data, len);
    if (!f) return -1;
    const char *bytes = r->chunked ? f->bytes : f->bytes + f->head_len;
    size_t n = r->chunked ? f->head_len + f->data_len + 2 : f->data_len;
    ssize_t sent = 0;
    if (stream_sock_backlog(r->sock) == 0) sent = send(fd, bytes, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent < (ssize_t)n) { /* the rest, or an error the socket's write meets */
        size_t done = sent > 0 ? (size_t)sent : 0;
        queue_on_sock(r->sock, f, bytes + done, n - done);
    }
    frame_unref(f);
    return 0;
}

