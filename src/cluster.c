/*
 * cluster: slot routing, redirects, retries, durable writes and topology
 * refresh over cluster_conn connections; see cluster.h for the contract.
 */
#include "cluster.h"

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_conn.h"
#include "cluster_map.h"
#include "log.h"
#include "resp.h"
#include "slot.h"

#define MAX_SEEDS 16
#define MAX_REDIRECTS 32
#define TICK_MS 20
#define REFRESH_MIN_GAP_MS 100
#define RETRY_BASE_MS 10
#define RETRY_MAX_MS 200
#define DEGRADED_REFRESH_MS 1000 /* while writes are degraded, look for a returned replica */
#define SILENT_NODE_MS 300       /* a command unanswered this long: the node may be gone (a
                                    crashed host resets no connection), so the topology is
                                    read again, from another node */

enum cmd_kind { CMD_PLAIN, CMD_DURABLE };

/* One command from submission until its callback has run and no hiredis
 * callback refers to it any more. */
struct cmd {
    struct cluster *c;
    cluster_reply_fn *cb;        /* the caller's callback */
    void *arg;
    char *fmt;                   /* the formatted command, in the same allocation */
    size_t len;
    unsigned slot;               /* where its key lives */
    enum cmd_kind kind;
    long long deadline_ms;       /* give up after this */
    long long not_before_ms;     /* parked: not before this */
    int redirects, retries;
    int ask_node;                /* send ASKING and go here next time, or -1 */
    int inflight;                /* hiredis callbacks still to come */
    redisReply *held;            /* durable: the reply, until WAIT answers */
    bool waits;                  /* durable: a WAIT follows it (it is in a batch) */
    bool degraded;               /* durable: fewer acks than min_acks are required,
                                    the topology lists fewer healthy replicas */
    bool done;                   /* the caller's callback has run */
    bool parked;                 /* in the parked list */
    struct cmd *prev, *next;     /* parked list links */
};

/* Durable writes sent on one node's connection since its last WAIT: a single
 * WAIT at the end of the loop iteration acknowledges them all (group commit),
 * because WAIT covers every earlier write of its connection. While a WAIT
 * is answered on that connection, the next batch stays open and grows: one
 * WAIT at a time per connection, so that a busy chatd sends fewer, larger
 * WAITs (each makes the master ask its replicas for their offsets). */
struct wait_batch {
    struct cluster *c;
    int node;                    /* the node it goes to */
    struct conn *conn;
    struct cmd **cmds;
    size_t n, cap;
    int want;                    /* replicas the WAIT asks for (see required_acks) */
};

struct seed {
    char host[CLUSTER_HOST_MAX];
    int port;
    struct conn *conn;           /* used to learn the topology */
};

struct cluster {
    struct event_base *base;
    struct cluster_options opts;
    int min_acks;                          /* resolved min_replica_acks */
    struct seed seeds[MAX_SEEDS];
    int nseeds;
    struct cluster_map *map;               /* slots to masters */
    struct conn *conns[CLUSTER_MAP_MAX_NODES];  /* pipelined, by node index */
    bool topology_known;
    bool standalone;
    struct cmd *parked_head, *parked_tail; /* commands waiting to be (re)sent */
    bool refreshing, refresh_due;          /* a CLUSTER SLOTS is in flight / wanted */
    long long last_refresh_ms;
    long long refresh_sent_ms;             /* when the one in flight was sent */
    int refresh_rotor;                     /* spreads refreshes over the nodes */
    struct conn **graveyard;               /* connections to free outside callbacks */
    int ngraves, graves_cap;
    struct event *tick_ev;
    struct event *kick_ev;                 /* runs the parked list soon */
    struct wait_batch *open_batch[CLUSTER_MAP_MAX_NODES]; /* WAIT not sent yet */
    struct conn *waiting[CLUSTER_MAP_MAX_NODES]; /* the connection whose WAIT is out */
    int flush_nodes[CLUSTER_MAP_MAX_NODES]; /* nodes with an open batch */
    int nflush;
    struct event *flush_ev;                /* sends the open batches' WAITs */
    char *wait_fmt, *asking_fmt, *slots_fmt;
    size_t wait_len, asking_len, slots_len;
    struct cluster_stats stats;
    int slots_before[SLOT_COUNT];          /* apply_slots: each slot's master before */
    long long degraded_log_ms;             /* when the last degraded write was logged */
    unsigned long long degraded_unlogged;  /* degraded writes since that log line */
    bool closing;
};

static void dispatch(struct cmd *cmd);
static void request_refresh(struct cluster *c);

/* True when conn is up and has answered everything sent more than
 * SILENT_NODE_MS ago. */
static bool conn_answers(const struct conn *conn, long long now) {
    if (!conn || !conn_is_up(conn)) return false;
    long long oldest = conn_oldest_sent_ms(conn);
    return oldest < 0 || now - oldest < SILENT_NODE_MS;
}

/* ---- small helpers ---- */

static char *format_command(size_t *len, int argc, const char **argv, const size_t *argvlen) {
    return resp_format_argv(len, argc, argv, argvlen); /* freed with redisFreeCommand() */
}

redisReply *reply_copy(const redisReply *r) { /* NOLINT(misc-no-recursion) */
    redisReply *copy = calloc(1, sizeof(*copy));
    if (!copy) return NULL;
    copy->type = r->type;
    copy->integer = r->integer;
    if (r->str) {
        copy->str = malloc(r->len + 1);
        if (!copy->str) goto fail;
        memcpy(copy->str, r->str, r->len + 1);
        copy->len = r->len;
    }
    if (r->elements) {
        copy->element = calloc(r->elements, sizeof(redisReply *));
        if (!copy->element) goto fail;
        copy->elements = r->elements;
        for (size_t i = 0; i < r->elements; i++)
            if (!(copy->element[i] = reply_copy(r->element[i]))) goto fail;
    }
    return copy;
fail:
    freeReplyObject(copy);
    return NULL;
}

static void kick(struct cluster *c) { event_active(c->kick_ev, EV_TIMEOUT, 0); }

static void bury(struct cluster *c, struct conn *conn) {
    if (c->ngraves == c->graves_cap) {
        int cap = c->graves_cap ? c->graves_cap * 2 : 16;
        struct conn **g = realloc(c->graveyard, (size_t)cap * sizeof(struct conn *));
        if (!g) { /* cannot defer: it leaks rather than being freed in its callback */
            log_error("msg=\"out of memory closing a connection\"");
            return;
        }
        c->graveyard = g;
        c->graves_cap = cap;
    }
    c->graveyard[c->ngraves++] = conn;
    kick(c);
}

/* ---- command lifecycle ---- */

static void unpark(struct cmd *cmd) {
    struct cluster *c = cmd->c;
    if (!cmd->parked) return;
    if (cmd->prev) cmd->prev->next = cmd->next;
    else c->parked_head = cmd->next;
    if (cmd->next) cmd->next->prev = cmd->prev;
    else c->parked_tail = cmd->prev;
    cmd->prev = cmd->next = NULL;
    cmd->parked = false;
}

static void park(struct cmd *cmd, long long not_before_ms) {
    struct cluster *c = cmd->c;
    cmd->not_before_ms = not_before_ms;
    if (cmd->parked) return;
    cmd->prev = c->parked_tail;
    cmd->next = NULL;
    if (c->parked_tail) c->parked_tail->next = cmd;
    else c->parked_head = cmd;
    c->parked_tail = cmd;
    cmd->parked = true;
}

/* Frees cmd once its callback ran and no hiredis callback is left. */
static void release(struct cmd *cmd) {
    if (!cmd->done || cmd->inflight > 0) return;
    if (cmd->held) freeReplyObject(cmd->held);
    free(cmd); /* and its fmt */
}

static void finish(struct cmd *cmd, redisReply *reply) {
    if (cmd->done) return;
    cmd->done = true;
    unpark(cmd);
    if (!reply) cmd->c->stats.failures++;
    cmd->cb(reply, cmd->arg);
    release(cmd);
}

static int backoff_ms(int retries) {
    int ms = RETRY_BASE_MS << (retries < 6 ? retries : 6);
    return ms > RETRY_MAX_MS ? RETRY_MAX_MS : ms;
}

/* Parks cmd for a later resend, or fails it when its time is up. */
static void retry_later(struct cmd *cmd, int delay_ms) {
    long long now = conn_now_ms();
    if (now + delay_ms >= cmd->deadline_ms || cmd->c->closing) {
        finish(cmd, NULL);
        return;
    }
    cmd->c->stats.retries++;
    park(cmd, now + delay_ms);
}

/* Resends now when no callback of the previous attempt is outstanding. */
static void retry_now(struct cmd *cmd) {
    if (cmd->inflight > 0) park(cmd, 0);
    else dispatch(cmd);
}

static void on_asking_reply(struct conn *conn, redisReply *reply, void *privdata) {
    (void)conn, (void)reply;
    struct cmd *cmd = privdata;
    cmd->inflight--;
    release(cmd);
}

static void follow_moved(struct cmd *cmd, struct conn *conn, const redisReply *reply) {
    struct cluster *c = cmd->c;
    struct cluster_redirect rd;
    if (cluster_redirect_parse(reply->str, reply->len, &rd) < 0) {
        finish(cmd, (redisReply *)reply);
        return;
    }
    const char *host = rd.host[0] ? rd.host : conn_host(conn);
    c->stats.moved++;
    log_info("msg=\"redis MOVED\" slot=%u to=%s:%d", rd.slot, host, rd.port);
    if (cluster_map_set_slot(c->map, rd.slot, host, rd.port) < 0) {
        request_refresh(c);
        retry_later(cmd, backoff_ms(cmd->retries++));
        return;
    }
    request_refresh(c);
    retry_now(cmd);
}

static void follow_ask(struct cmd *cmd, struct conn *conn, const redisReply *reply) {
    struct cluster *c = cmd->c;
    struct cluster_redirect rd;
    if (cluster_redirect_parse(reply->str, reply->len, &rd) < 0) {
        finish(cmd, (redisReply *)reply);
        return;
    }
    int node = cluster_map_find(c->map, rd.host[0] ? rd.host : conn_host(conn), rd.port);
    c->stats.ask++;
    log_debug("msg=\"redis ASK\" slot=%u to=%s:%d", rd.slot, rd.host, rd.port);
    if (node == CLUSTER_NODE_NONE) { /* a node we do not know yet */
        request_refresh(c);
        retry_later(cmd, backoff_ms(cmd->retries++));
        return;
    }
    cmd->ask_node = node;
    retry_now(cmd);
}

/* Handles an error reply; returns true when it was a cluster error dealt with. */
static bool handle_cluster_error(struct cmd *cmd, struct conn *conn, redisReply *reply) {
    switch (cluster_error_classify(reply->str, reply->len)) {
    case CLUSTER_ERROR_MOVED:
    case CLUSTER_ERROR_ASK:
        if (++cmd->redirects > MAX_REDIRECTS) {
            log_warn("msg=\"too many redirects\" slot=%u last=\"%s\"", cmd->slot, reply->str);
            finish(cmd, NULL);
            return true;
        }
        if (cluster_error_classify(reply->str, reply->len) == CLUSTER_ERROR_MOVED)
            follow_moved(cmd, conn, reply);
        else
            follow_ask(cmd, conn, reply);
        return true;
    case CLUSTER_ERROR_CLUSTERDOWN:
        request_refresh(cmd->c);
        /* fall through */
    case CLUSTER_ERROR_TRYAGAIN:
    case CLUSTER_ERROR_LOADING:
        retry_later(cmd, backoff_ms(cmd->retries++));
        return true;
    case CLUSTER_ERROR_OTHER:
        break;
    }
    return false;
}

/* A durable write's answer tells whether Redis takes writes: -OOM when
 * its maxmemory is reached (noeviction). */
static void note_storage(struct cluster *c, const redisReply *reply) {
    bool full = reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "OOM ", 4) == 0;
    if (full) c->stats.refused_full++;
    c->stats.storage_full = full;
}

/* A durable write acknowledged by want (< min_acks) replicas because the
 * topology lists no more healthy ones: counted, and logged at most once a
 * second with the number of such writes since the last line. The topology
 * is read again at most every DEGRADED_REFRESH_MS meanwhile, so that the
 * full rule is back soon after a replica is (whatever --topology-refresh). */
static void note_degraded(struct cluster *c, struct conn *conn, int want) {
    long long now = conn_now_ms();
    c->stats.durable_degraded++;
    c->degraded_unlogged++;
    if (now - c->last_refresh_ms >= DEGRADED_REFRESH_MS) request_refresh(c);
    if (now - c->degraded_log_ms < 1000 && c->degraded_log_ms != 0) return;
    log_warn("msg=\"write acknowledged by fewer replicas than wanted: the master has no more healthy"
             " replicas\" node=%s:%d acks=%d want=%d writes=%llu",
             conn_host(conn), conn_port(conn), want, c->min_acks, c->degraded_unlogged);
    c->degraded_log_ms = now;
    c->degraded_unlogged = 0;
}

static void on_cmd_reply(struct conn *conn, redisReply *reply, void *privdata) {
    struct cmd *cmd = privdata;
    cmd->inflight--;
    if (cmd->done) {
        release(cmd);
        return;
    }
    if (!reply) { /* lost with its connection: find out where to go, then resend */
        request_refresh(cmd->c);
        retry_later(cmd, backoff_ms(cmd->retries++));
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR && handle_cluster_error(cmd, conn, reply)) return;
    if (cmd->kind == CMD_DURABLE) note_storage(cmd->c, reply);
    if (cmd->waits && reply->type != REDIS_REPLY_ERROR) {
        cmd->held = reply_copy(reply); /* delivered when WAIT answers */
        if (!cmd->held) finish(cmd, NULL);
        return;
    }
    if (cmd->degraded && reply->type != REDIS_REPLY_ERROR) note_degraded(cmd->c, conn, 0);
    finish(cmd, reply);
}

/* WAIT answered (or was lost, reply == NULL) for one command of a batch that
 * asked for want replicas. */
static void wait_done(struct cmd *cmd, struct conn *conn, int want, const redisReply *reply) {
    struct cluster *c = cmd->c;
    cmd->inflight--;
    redisReply *held = cmd->held;
    cmd->held = NULL;
    if (cmd->done || !held) { /* the command itself failed or was redirected */
        if (cmd->parked && cmd->inflight == 0) kick(c);
        release(cmd);
        return;
    }
    long long acks = reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
    if (acks >= want) {
        if (cmd->degraded) note_degraded(c, conn, want);
        finish(cmd, held);
    } else {
        c->stats.not_durable++;
        log_warn("msg=\"write not acknowledged by replicas\" node=%s:%d acks=%lld want=%d",
                 conn_host(conn), conn_port(conn), acks, want);
        request_refresh(c); /* a replica may have failed: see whether it is flagged */
        finish(cmd, NULL);
    }
    freeReplyObject(held);
}

static void batch_done(struct wait_batch *b, const redisReply *reply) {
    for (size_t i = 0; i < b->n; i++) wait_done(b->cmds[i], b->conn, b->want, reply);
    free(b->cmds);
    free(b);
}

static void on_batch_wait(struct conn *conn, redisReply *reply, void *privdata) {
    (void)conn;
    struct wait_batch *b = privdata;
    struct cluster *c = b->c;
    if (c->waiting[b->node] == b->conn) { /* the next batch of the node may go */
        c->waiting[b->node] = NULL;
        if (c->open_batch[b->node]) event_active(c->flush_ev, EV_TIMEOUT, 0);
    }
    batch_done(b, reply);
}

/* The open batch of node's connection, with room for one more command; NULL
 * when out of memory. */
static struct wait_batch *batch_with_room(struct cluster *c, int node, struct conn *conn,
                                          int want) {
    struct wait_batch *b = c->open_batch[node];
    if (!b) {
        if (!(b = calloc(1, sizeof(*b)))) return NULL;
        b->c = c;
        b->node = node;
        b->conn = conn;
        b->want = want;
        c->open_batch[node] = b;
        c->flush_nodes[c->nflush++] = node;
        event_active(c->flush_ev, EV_TIMEOUT, 0);
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        struct cmd **cmds = realloc(b->cmds, cap * sizeof(struct cmd *));
        if (!cmds) return NULL;
        b->cmds = cmds;
        b->cap = cap;
    }
    return b;
}

/* Sends b's WAIT: the prepared one, or one for fewer replicas (degraded). */
static int send_wait(struct cluster *c, struct wait_batch *b) {
    if (b->want == c->min_acks) return conn_send(b->conn, c->wait_fmt, c->wait_len, on_batch_wait, b);
    char *fmt = NULL;
    int len = redisFormatCommand(&fmt, "WAIT %d %d", b->want, c->opts.wait_timeout_ms);
    if (len < 0) return -1;
    int rc = conn_send(b->conn, fmt, (size_t)len, on_batch_wait, b);
    redisFreeCommand(fmt);
    return rc;
}

/* Sends one WAIT per open batch whose connection has none out (all of them
 * with force); a batch whose WAIT cannot go out is treated as
 * unacknowledged (its connection is gone, so its commands fail too). */
static void flush_batches(struct cluster *c, bool force) {
    int nodes[CLUSTER_MAP_MAX_NODES], n = c->nflush;
    memcpy(nodes, c->flush_nodes, (size_t)n * sizeof(nodes[0]));
    c->nflush = 0; /* a batch opened by a callback below appends itself */
    for (int i = 0; i < n; i++) {
        struct wait_batch *b = c->open_batch[nodes[i]];
        if (!b) continue;
        if (!force && c->waiting[nodes[i]] == b->conn) { /* sent when that WAIT answers */
            c->flush_nodes[c->nflush++] = nodes[i];
            continue;
        }
        c->open_batch[nodes[i]] = NULL;
        if (send_wait(c, b) < 0) batch_done(b, NULL);
        else c->waiting[nodes[i]] = b->conn;
    }
}

static void on_flush(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    flush_batches(arg, false);
}

/* ---- routing ---- */

static struct conn *conn_for_node(struct cluster *c, int node);

static void on_conn_state(struct conn *conn, bool up, void *owner) {
    struct cluster *c = owner;
    (void)conn;
    if (up) kick(c);
    else request_refresh(c);
}

static struct conn *conn_for_node(struct cluster *c, int node) {
    if (!c->conns[node]) {
        const struct cluster_node *n = cluster_map_node(c->map, node);
        c->conns[node] = conn_new(c->base, n->host, n->port, &c->opts.auth, c->opts.timeout_ms,
                                  on_conn_state, c);
    }
    return c->conns[node];
}

/* Sends cmd on node's conn (with ASKING before it; a durable write joins the
 * batch of the next WAIT); -1 if refused. */
static int send_on(struct cmd *cmd, int node, struct conn *conn) {
    struct cluster *c = cmd->c;
    struct wait_batch *batch = NULL;
    cmd->waits = cmd->degraded = false;
    if (cmd->kind == CMD_DURABLE && c->min_acks > 0) {
        int want = cluster_map_required_acks(c->map, node, c->min_acks);
        if (want > 0 && !(batch = batch_with_room(c, node, conn, want))) return -1;
        cmd->waits = batch != NULL;
        cmd->degraded = (batch ? batch->want : 0) < c->min_acks;
    }
    if (cmd->ask_node >= 0) {
        if (conn_send(conn, c->asking_fmt, c->asking_len, on_asking_reply, cmd) < 0) return -1;
        cmd->inflight++;
        cmd->ask_node = -1;
    }
    if (conn_send(conn, cmd->fmt, cmd->len, on_cmd_reply, cmd) < 0) return -1;
    cmd->inflight++;
    if (batch) {
        batch->cmds[batch->n++] = cmd;
        cmd->inflight++;
    }
    return 0;
}

static void dispatch(struct cmd *cmd) {
    struct cluster *c = cmd->c;
    if (c->closing) {
        finish(cmd, NULL);
        return;
    }
    int node = cmd->ask_node >= 0 ? cmd->ask_node : cluster_map_master(c->map, cmd->slot);
    if (!c->topology_known || node == CLUSTER_NODE_NONE) {
        if (c->topology_known) request_refresh(c);
        park(cmd, 0);
        return;
    }
    struct conn *conn = conn_for_node(c, node);
    if (!conn || !conn_is_usable(conn) || send_on(cmd, node, conn) < 0) {
        request_refresh(c);
        park(cmd, conn_now_ms() + RETRY_BASE_MS);
        return;
    }
    unpark(cmd);
}

/* Sends every parked command that may go now; fails those out of time. */
static void run_parked(struct cluster *c) {
    long long now = conn_now_ms();
    struct cmd *cmd = c->parked_head, *next;
    for (; cmd; cmd = next) {
        next = cmd->next;
        if (now >= cmd->deadline_ms) {
            finish(cmd, NULL);
        } else if (cmd->inflight == 0 && now >= cmd->not_before_ms && c->topology_known) {
            dispatch(cmd); /* may park it again at the tail: next was taken first */
        }
    }
}

/* ---- topology ---- */

static void become_standalone(struct cluster *c, struct conn *conn) {
    if (!c->standalone)
        log_info("msg=\"redis is standalone (cluster support disabled)\" node=%s:%d",
                 conn_host(conn), conn_port(conn));
    c->standalone = true;
    for (unsigned s = 0; s < SLOT_COUNT; s++)
        cluster_map_set_slot(c->map, s, conn_host(conn), conn_port(conn));
    if (c->min_acks < 0) c->min_acks = 0;
    conn_for_node(c, cluster_map_master(c->map, 0));
}

/* Logs how the slot assignment changed, in one line. */
static void log_topology(struct cluster *c, const int *before) {
    size_t moved = 0;
    char masters[512] = "";
    for (unsigned s = 0; s < SLOT_COUNT; s++) moved += before[s] != cluster_map_master(c->map, s);
    if (moved == 0 && c->topology_known) return;
    for (size_t i = 0; i < cluster_map_node_count(c->map); i++) {
        const struct cluster_node *n = cluster_map_node(c->map, (int)i);
        if (n->role != CLUSTER_ROLE_MASTER) continue;
        size_t used = strlen(masters);
        snprintf(masters + used, sizeof(masters) - used, "%s%s:%d", used ? "," : "", n->host,
                 n->port);
    }
    log_info("msg=\"redis topology\" masters=%s slots_changed=%zu slots_served=%zu", masters,
             moved, cluster_map_slots_served(c->map));
}

/* Commands still waiting on a node that no longer serves slots (it failed,
 * and its replica took over) are resent at once, to the new master, instead
 * of waiting for their connection's --redis-timeout: the connection is
 * closed (later, outside any callback), which fails them over to a retry.
 * Not while a WAIT for it is still to be sent. */
static void drop_former_master(struct cluster *c, int node) {
    struct conn *conn = c->conns[node];
    if (!conn || conn_pending(conn) == 0 || c->open_batch[node]) return;
    log_info("msg=\"closing the connection to a former master\" node=%s:%d pending=%zu",
             conn_host(conn), conn_port(conn), conn_pending(conn));
    c->conns[node] = NULL;
    bury(c, conn);
}

static void apply_slots(struct cluster *c, struct conn *conn, const redisReply *reply) {
    int *before = c->slots_before;
    char err[CLUSTER_MAP_ERR_LEN];
    for (unsigned s = 0; s < SLOT_COUNT; s++) before[s] = cluster_map_master(c->map, s);
    if (cluster_map_update(c->map, reply, conn_host(conn), err) < 0) {
        log_warn("msg=\"bad CLUSTER SLOTS reply\" node=%s:%d err=\"%s\"", conn_host(conn),
                 conn_port(conn), err);
        c->refresh_due = true;
        return;
    }
    if (c->min_acks < 0) c->min_acks = 1;
    log_topology(c, before);
    for (size_t i = 0; i < cluster_map_node_count(c->map); i++) {
        if (cluster_map_node(c->map, (int)i)->role == CLUSTER_ROLE_MASTER)
            conn_for_node(c, (int)i);
        else
            drop_former_master(c, (int)i);
    }
    c->topology_known = true;
}

static void on_slots(struct conn *conn, redisReply *reply, void *privdata) {
    struct cluster *c = privdata;
    c->refreshing = false;
    c->last_refresh_ms = conn_now_ms();
    if (c->closing) return;
    if (!reply) {
        c->refresh_due = true; /* the tick asks another node */
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR && strstr(reply->str, "cluster support disabled")) {
        become_standalone(c, conn);
        c->topology_known = true;
    } else if (reply->type == REDIS_REPLY_ERROR) {
        log_warn("msg=\"CLUSTER SLOTS failed\" node=%s:%d err=\"%s\"", conn_host(conn),
                 conn_port(conn), reply->str);
        c->refresh_due = true;
        return;
    } else {
        apply_slots(c, conn, reply);
    }
    c->stats.refreshes++;
    run_parked(c);
}

/* Picks a connection to ask for the topology: a known node that answers,
 * else the next seed. */
static struct conn *refresh_source(struct cluster *c) {
    size_t n = cluster_map_node_count(c->map);
    long long now = conn_now_ms();
    for (size_t i = 0; i < n; i++) {
        struct conn *conn = c->conns[(c->refresh_rotor + i) % n];
        if (conn_answers(conn, now)) {
            c->refresh_rotor = (int)((c->refresh_rotor + i + 1) % n);
            return conn;
        }
    }
    for (int i = 0; i < c->nseeds; i++) {
        struct seed *s = &c->seeds[(c->refresh_rotor + i) % c->nseeds];
        if (!s->conn)
            s->conn = conn_new(c->base, s->host, s->port, &c->opts.auth, c->opts.timeout_ms, NULL,
                               NULL);
        if (s->conn && conn_is_usable(s->conn)) {
            c->refresh_rotor++;
            return s->conn;
        }
    }
    return NULL;
}

static void start_refresh(struct cluster *c) {
    c->refresh_due = false;
    struct conn *conn = refresh_source(c);
    if (!conn || conn_send(conn, c->slots_fmt, c->slots_len, on_slots, c) < 0) {
        c->refresh_due = true;
        return;
    }
    c->refreshing = true;
    c->refresh_sent_ms = conn_now_ms();
}

/* Asks for a refresh; concurrent requests and bursts collapse into one. */
static void request_refresh(struct cluster *c) {
    if (c->closing) return;
    if (c->refreshing || conn_now_ms() - c->last_refresh_ms < REFRESH_MIN_GAP_MS) {
        c->refresh_due = true;
        return;
    }
    start_refresh(c);
}

/* ---- timers ---- */

static void free_graves(struct cluster *c) {
    while (c->ngraves > 0) conn_free(c->graveyard[--c->ngraves]);
}

static void on_kick(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct cluster *c = arg;
    free_graves(c);
    run_parked(c);
}

/* A silent master (or a silent source of the refresh in flight) asks for
 * the topology again: once its replica is promoted, the commands go there
 * without waiting for the silent connection's --redis-timeout. */
static void watch_silent_nodes(struct cluster *c, long long now) {
    for (size_t i = 0; i < cluster_map_node_count(c->map); i++)
        if (c->conns[i] && conn_is_up(c->conns[i]) && !conn_answers(c->conns[i], now))
            c->refresh_due = true;
    if (c->refreshing && now - c->refresh_sent_ms >= SILENT_NODE_MS) {
        c->refreshing = false; /* its answer, if it comes, is applied as well */
        c->refresh_due = true;
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct cluster *c = arg;
    long long now = conn_now_ms();
    for (size_t i = 0; i < cluster_map_node_count(c->map); i++)
        if (c->conns[i]) conn_check(c->conns[i], now);
    watch_silent_nodes(c, now);
    for (int i = 0; i < c->nseeds; i++)
        if (c->seeds[i].conn) conn_check(c->seeds[i].conn, now);
    if (!c->refreshing && (c->refresh_due || now - c->last_refresh_ms >= c->opts.refresh_period_ms) &&
        now - c->last_refresh_ms >= REFRESH_MIN_GAP_MS)
        start_refresh(c);
    free_graves(c);
    run_parked(c);
}

/* ---- public ---- */

static int parse_seeds(struct cluster *c, const char *seeds, char err[256]) {
    const char *p = seeds;
    while (*p) {
        size_t len = strcspn(p, ",");
        const char *colon = memrchr(p, ':', len);
        char *end;
        long port = colon ? strtol(colon + 1, &end, 10) : 0;
        if (!colon || colon == p || (size_t)(colon - p) >= CLUSTER_HOST_MAX ||
            end != p + len || port < 1 || port > 65535 || c->nseeds == MAX_SEEDS) {
            snprintf(err, 256, "bad Redis address '%.*s' (want host:port)", (int)len, p);
            return -1;
        }
        struct seed *s = &c->seeds[c->nseeds++];
        memcpy(s->host, p, (size_t)(colon - p));
        s->host[colon - p] = '\0';
        s->port = (int)port;
        p += len;
        if (*p == ',') p++;
    }
    if (c->nseeds == 0) {
        snprintf(err, 256, "no Redis address given");
        return -1;
    }
    return 0;
}

static int prepare_fixed_commands(struct cluster *c) {
    char timeout[24], acks[24];
    snprintf(timeout, sizeof(timeout), "%d", c->opts.wait_timeout_ms);
    snprintf(acks, sizeof(acks), "%d", c->min_acks < 0 ? 1 : c->min_acks);
    const char *wait[] = {"WAIT", acks, timeout}, *asking[] = {"ASKING"},
               *slots[] = {"CLUSTER", "SLOTS"};
    c->wait_fmt = format_command(&c->wait_len, 3, wait, NULL);
    c->asking_fmt = format_command(&c->asking_len, 1, asking, NULL);
    c->slots_fmt = format_command(&c->slots_len, 2, slots, NULL);
    return c->wait_fmt && c->asking_fmt && c->slots_fmt ? 0 : -1;
}

struct cluster *cluster_new(struct event_base *base, const struct cluster_options *opts,
                            char err[256]) {
    struct cluster *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, 256, "out of memory");
        return NULL;
    }
    c->base = base;
    c->opts = *opts;
    c->min_acks = opts->min_replica_acks;
    c->last_refresh_ms = -(long long)opts->refresh_period_ms;
    c->map = cluster_map_new();
    c->tick_ev = event_new(base, -1, EV_PERSIST, on_tick, c);
    c->kick_ev = event_new(base, -1, 0, on_kick, c);
    c->flush_ev = event_new(base, -1, 0, on_flush, c);
    struct timeval tick = {0, TICK_MS * 1000};
    if (parse_seeds(c, opts->seeds, err) < 0 || !c->map || !c->tick_ev || !c->kick_ev || !c->flush_ev ||
        prepare_fixed_commands(c) < 0 || event_add(c->tick_ev, &tick) < 0) {
        if (!err[0]) snprintf(err, 256, "out of memory");
        cluster_free(c);
        return NULL;
    }
    start_refresh(c);
    return c;
}

void cluster_free(struct cluster *c) {
    if (!c) return;
    flush_batches(c, true); /* their WAITs fail below with the connections */
    c->closing = true;
    for (size_t i = 0; i < CLUSTER_MAP_MAX_NODES; i++)
        conn_free(c->conns[i]); /* pending callbacks run with NULL and finish */
    for (int i = 0; i < c->nseeds; i++) conn_free(c->seeds[i].conn);
    while (c->parked_head) finish(c->parked_head, NULL);
    free_graves(c);
    free(c->graveyard);
    if (c->tick_ev) event_free(c->tick_ev);
    if (c->kick_ev) event_free(c->kick_ev);
    if (c->flush_ev) event_free(c->flush_ev);
    redisFreeCommand(c->wait_fmt);
    redisFreeCommand(c->asking_fmt);
    redisFreeCommand(c->slots_fmt);
    cluster_map_free(c->map);
    free(c);
}

static int submit(struct cluster *c, enum cmd_kind kind, unsigned slot, int timeout_ms,
                  cluster_reply_fn *cb, void *arg, int argc, const char **argv,
                  const size_t *argvlen) {
    if (c->closing || argc < 0) return -1;
    size_t len = resp_format_len(argc, argv, argvlen);
    struct cmd *cmd = malloc(sizeof(*cmd) + len + 1); /* one allocation for both */
    if (!cmd) return -1;
    memset(cmd, 0, sizeof(*cmd));
    cmd->fmt = (char *)(cmd + 1);
    cmd->len = len;
    resp_format_into(cmd->fmt, argc, argv, argvlen);
    cmd->c = c;
    cmd->cb = cb;
    cmd->arg = arg;
    cmd->kind = kind;
    cmd->slot = slot;
    cmd->ask_node = -1;
    cmd->deadline_ms = conn_now_ms() + timeout_ms;
    c->stats.commands++;
    dispatch(cmd);
    return 0;
}

int cluster_command_argv(struct cluster *c, const char *key, size_t keylen,
                         cluster_reply_fn *cb, void *arg, int argc, const char **argv,
                         const size_t *argvlen) {
    return submit(c, CMD_PLAIN, slot_for_key(key, keylen), c->opts.timeout_ms, cb, arg, argc,
                  argv, argvlen);
}

/* A slot whose master answers; slot 0 when there is none. */
static unsigned slot_on_live_master(const struct cluster *c) {
    long long now = conn_now_ms();
    for (unsigned s = 0; s < SLOT_COUNT; s++) {
        int node = cluster_map_master(c->map, s);
        if (node != CLUSTER_NODE_NONE && conn_answers(c->conns[node], now)) return s;
    }
    return 0;
}

int cluster_command_any_node(struct cluster *c, cluster_reply_fn *cb, void *arg, int argc,
                             const char **argv, const size_t *argvlen) {
    return submit(c, CMD_PLAIN, slot_on_live_master(c), c->opts.timeout_ms, cb, arg, argc, argv,
                  argvlen);
}

int cluster_command_durable(struct cluster *c, const char *key, size_t keylen,
                            cluster_reply_fn *cb, void *arg, int argc, const char **argv,
                            const size_t *argvlen) {
    /* whether WAIT follows is decided when it is sent: before the topology is
     * known, a standalone node (no WAIT) cannot be told from a cluster */
    return submit(c, CMD_DURABLE, slot_for_key(key, keylen), c->opts.timeout_ms, cb, arg, argc,
                  argv, argvlen);
}

const struct conn_auth *cluster_auth(const struct cluster *c) { return &c->opts.auth; }

bool cluster_is_ready(const struct cluster *c) {
    if (!c->topology_known || cluster_map_slots_served(c->map) != SLOT_COUNT) return false;
    size_t masters = 0, up = 0;
    long long now = conn_now_ms();
    for (size_t i = 0; i < cluster_map_node_count(c->map); i++) {
        if (cluster_map_node(c->map, (int)i)->role != CLUSTER_ROLE_MASTER) continue;
        masters++;
        up += conn_answers(c->conns[i], now);
    }
    return up * 2 > masters;
}

int cluster_node_address(const struct cluster *c, unsigned n, char *host, size_t size,
                         int *port) {
    size_t count = c->topology_known ? cluster_map_node_count(c->map) : 0;
    const char *h;
    if (count > 0) {
        const struct cluster_node *node = cluster_map_node(c->map, (int)(n % count));
        h = node->host;
        *port = node->port;
    } else if (c->nseeds > 0) {
        h = c->seeds[n % (unsigned)c->nseeds].host;
        *port = c->seeds[n % (unsigned)c->nseeds].port;
    } else {
        return -1;
    }
    return snprintf(host, size, "%s", h) < (int)size ? 0 : -1;
}

int cluster_slot_master(const struct cluster *c, unsigned slot) {
    if (!c->topology_known && !c->standalone) return -1;
    int node = cluster_map_master(c->map, slot);
    return node == CLUSTER_NODE_NONE ? -1 : node;
}

int cluster_node_at(const struct cluster *c, int index, char *host, size_t size, int *port) {
    const struct cluster_node *node = cluster_map_node(c->map, index);
    if (!node) return -1;
    *port = node->port;
    return snprintf(host, size, "%s", node->host) < (int)size ? 0 : -1;
}

void cluster_refresh_soon(struct cluster *c) { request_refresh(c); }

const struct cluster_stats *cluster_get_stats(const struct cluster *c) { return &c->stats; }
