/* shard_conn: a sharded pub/sub connection fed to hiredis's parser, see shard_conn.h. */
#include "shard_conn.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cluster_conn.h"
#include "log.h"
#include "resp.h"

struct shard_conn {
    struct bufferevent *bev;
    redisReader *reader;
    shard_reply_fn *on_reply;
    shard_down_fn *on_down;
    void *arg;
    bool alive; /* on_down has not run */
};

static void go_down(struct shard_conn *sc, const char *why) {
    if (!sc->alive) return;
    sc->alive = false;
    log_warn("msg=\"doorbell connection lost\" reason=\"%s\"", why);
    bufferevent_disable(sc->bev, EV_READ | EV_WRITE);
    sc->on_down(sc, sc->arg);
}

static void hand_over_replies(struct shard_conn *sc) {
    void *reply = NULL;
    while (sc->alive && redisReaderGetReply(sc->reader, &reply) == REDIS_OK && reply) {
        sc->on_reply(sc, reply, sc->arg);
        freeReplyObject(reply);
        reply = NULL;
    }
    if (sc->alive && sc->reader->err) go_down(sc, sc->reader->errstr);
}

static void on_readable(struct bufferevent *bev, void *arg) {
    struct shard_conn *sc = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    char buf[16384];
    int n;
    while (sc->alive && (n = evbuffer_remove(in, buf, sizeof(buf))) > 0) {
        if (redisReaderFeed(sc->reader, buf, (size_t)n) != REDIS_OK) {
            go_down(sc, sc->reader->errstr);
            return;
        }
        hand_over_replies(sc);
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg) {
    (void)bev;
    struct shard_conn *sc = arg;
    if (what & BEV_EVENT_CONNECTED) return;
    go_down(sc, (what & BEV_EVENT_EOF) ? "closed by peer" : "connection error");
}

static void send_auth(struct shard_conn *sc, const struct conn_auth *auth) {
    if (!auth || !auth->password || !auth->password[0]) return;
    bool with_user = auth->user && auth->user[0];
    const char *argv[] = {"AUTH", with_user ? auth->user : auth->password, auth->password};
    size_t len;
    char *cmd = resp_format_argv(&len, with_user ? 3 : 2, argv, NULL);
    if (cmd) shard_conn_send(sc, cmd, len);
    free(cmd);
}

struct shard_conn *shard_conn_new(struct event_base *base, const char *host, int port,
                                  const struct conn_auth *auth, shard_reply_fn *on_reply,
                                  shard_down_fn *on_down, void *arg) {
    struct shard_conn *sc = calloc(1, sizeof(*sc));
    if (!sc) return NULL;
    *sc = (struct shard_conn){.on_reply = on_reply, .on_down = on_down, .arg = arg, .alive = true};
    sc->reader = redisReaderCreate();
    sc->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!sc->reader || !sc->bev) {
        shard_conn_free(sc);
        return NULL;
    }
    bufferevent_setcb(sc->bev, on_readable, NULL, on_event, sc);
    bufferevent_enable(sc->bev, EV_READ | EV_WRITE);
    /* cluster nodes are addresses: getaddrinfo answers without a lookup */
    if (bufferevent_socket_connect_hostname(sc->bev, NULL, AF_UNSPEC, host, port) < 0) {
        shard_conn_free(sc);
        return NULL;
    }
    send_auth(sc, auth);
    return sc;
}

void shard_conn_free(struct shard_conn *sc) {
    if (!sc) return;
    if (sc->bev) bufferevent_free(sc->bev);
    if (sc->reader) redisReaderFree(sc->reader);
    free(sc);
}

int shard_conn_send(struct shard_conn *sc, const char *cmd, size_t len) {
    if (!sc->alive) return -1;
    return bufferevent_write(sc->bev, cmd, len);
}

bool shard_conn_is_alive(const struct shard_conn *sc) { return sc->alive; }
