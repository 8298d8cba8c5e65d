/* redis_events: hiredis async context on the libevent loop, see redis_events.h. */
#include "redis_events.h"

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdlib.h>

/* The events of one context. */
struct redis_events {
    redisAsyncContext *ac;
    struct event *read_ev;  /* socket readable; persistent */
    struct event *write_ev; /* socket writable: connecting, or a write left over */
    struct event *flush_ev; /* made active: writes what this iteration queued */
};

/* The context whose queued commands are being written by on_flush: a write
 * it asks for now did not finish, and must wait for the socket. (A static,
 * not a field: hiredis may free the context, and the glue, in that write.) */
static const struct redis_events *flushing;

static void on_read(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    redisAsyncHandleRead(((struct redis_events *)arg)->ac);
}

static void on_write(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    redisAsyncHandleWrite(((struct redis_events *)arg)->ac);
}

static void on_flush(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct redis_events *e = arg;
    flushing = e;
    redisAsyncHandleWrite(e->ac); /* may free e */
    flushing = NULL;
}

static void add_read(void *privdata) {
    struct redis_events *e = privdata;
    event_add(e->read_ev, NULL); /* already added: no change */
}

static void del_read(void *privdata) {
    struct redis_events *e = privdata;
    event_del(e->read_ev);
}

static void add_write(void *privdata) {
    struct redis_events *e = privdata;
    if (e == flushing || !(e->ac->c.flags & REDIS_CONNECTED)) event_add(e->write_ev, NULL);
    else event_active(e->flush_ev, EV_WRITE, 0); /* once per iteration, however often */
}

static void del_write(void *privdata) {
    struct redis_events *e = privdata;
    event_del(e->write_ev);
}

static void cleanup(void *privdata) {
    struct redis_events *e = privdata;
    if (!e) return;
    if (e->read_ev) event_free(e->read_ev);
    if (e->write_ev) event_free(e->write_ev);
    if (e->flush_ev) event_free(e->flush_ev);
    free(e);
}

int redis_events_attach(redisAsyncContext *ac, struct event_base *base) {
    if (ac->ev.data) return -1;
    struct redis_events *e = calloc(1, sizeof(*e));
    if (!e) return -1;
    e->ac = ac;
    e->read_ev = event_new(base, ac->c.fd, EV_READ | EV_PERSIST, on_read, e);
    e->write_ev = event_new(base, ac->c.fd, EV_WRITE, on_write, e);
    e->flush_ev = event_new(base, -1, 0, on_flush, e);
    if (!e->read_ev || !e->write_ev || !e->flush_ev) {
        cleanup(e);
        return -1;
    }
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    ac->ev.data = e;
    /* both, as hiredis' own adapter does: the connect completes on either */
    event_add(e->read_ev, NULL);
    event_add(e->write_ev, NULL);
    return 0;
}
