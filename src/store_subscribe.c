/*
 * store_subscribe: the store's one subscription, to the announcements of
 * ended sessions (STORE_CHANNEL_SESSIONS_ENDED). It has a connection of its
 * own (a subscribed connection carries nothing else) to a node the cluster
 * layer knows, and turns the channel's replies into store callbacks: who
 * subscribes needs neither the channel's name nor Redis's reply shapes.
 */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_conn.h"
#include "resp.h"
#include "store_keys.h"
#include "store_private.h"

struct store_subscription {
    struct conn *conn;      /* the subscribed connection */
    store_announce_fn *cb;  /* what it reports to */
    void *arg;
    char node[300];         /* "host:port", for logs */
};

static bool reply_kind_is(const redisReply *r, const char *kind) {
    return r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
           r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, kind) == 0;
}

static void on_reply(struct conn *conn, redisReply *reply, void *arg) {
    (void)conn;
    struct store_subscription *sub = arg;
    if (!reply) sub->cb(sub, STORE_UNAVAILABLE, NULL, 0, sub->arg);
    else if (reply_kind_is(reply, "subscribe")) sub->cb(sub, STORE_OK, NULL, 0, sub->arg);
    else if (reply_kind_is(reply, "message") && reply->element[2]->type == REDIS_REPLY_STRING)
        sub->cb(sub, STORE_OK, reply->element[2]->str, reply->element[2]->len, sub->arg);
}

struct store_subscription *store_sessions_ended_subscribe(struct store *s, unsigned node,
                                                          store_announce_fn *cb, void *arg) {
    char host[256];
    int port;
    struct store_subscription *sub = calloc(1, sizeof(*sub));
    if (!sub || cluster_node_address(s->cluster, node, host, sizeof(host), &port) < 0) {
        free(sub);
        return NULL;
    }
    *sub = (struct store_subscription){.cb = cb, .arg = arg};
    snprintf(sub->node, sizeof(sub->node), "%s:%d", host, port);
    const char *argv[] = {"SUBSCRIBE", STORE_CHANNEL_SESSIONS_ENDED};
    size_t len;
    char *cmd = resp_format_argv(&len, 2, argv, NULL);
    sub->conn = cmd ? conn_new(s->base, host, port, cluster_auth(s->cluster), 0, NULL, NULL) : NULL;
    if (!sub->conn || conn_subscribe(sub->conn, cmd, len, on_reply, sub) < 0) {
        free(cmd);
        conn_free(sub->conn);
        free(sub);
        return NULL;
    }
    free(cmd);
    return sub;
}

void store_subscription_free(struct store_subscription *sub) {
    if (!sub) return;
    conn_free(sub->conn); /* reports STORE_UNAVAILABLE first, if it had not ended */
    free(sub);
}

const char *store_subscription_node(const struct store_subscription *sub) { return sub->node; }
