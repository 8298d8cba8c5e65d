/*
 * cluster: chatd's only way to Redis, for a Redis Cluster or a standalone
 * node alike. From the seed nodes it learns the topology (CLUSTER SLOTS; a
 * node with cluster support disabled makes it standalone), keeps one
 * pipelined connection per master, routes every command by its key's hash
 * slot, follows MOVED and ASK redirects, retries TRYAGAIN, CLUSTERDOWN and
 * LOADING with backoff, and resends after a lost connection once the
 * topology is refreshed — all within a time bound, after which the caller
 * gets reply == NULL. Refreshes run periodically and on errors, coalesced.
 *
 * Contract: when a cluster_command_* function returns -1, the callback is
 * never called; when it returns 0, the callback runs exactly once, later, on
 * the loop thread: with the reply (which may be a Redis error reply that is
 * not a cluster redirect), or with reply == NULL when Redis could not answer
 * in time (also at shutdown, and for a durable write whose replicas did not
 * acknowledge it). The reply is freed after the callback returns.
 *
 * A command may be sent more than once (after a lost connection), so writes
 * must be idempotent or deduplicated by the caller.
 */
#ifndef CHAT_CLUSTER_H
#define CHAT_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

#include "cluster_conn.h"

struct event_base;
struct redisReply;
struct cluster;

typedef void cluster_reply_fn(struct redisReply *reply, void *arg);

/* A deep copy of a reply, to keep past its callback; freed with
 * freeReplyObject(). It recurses as deep as the reply nests, which
 * hiredis' reader limits (7 levels). */
struct redisReply *reply_copy(const struct redisReply *r);

/* Settings of the layer. */
struct cluster_options {
    const char *seeds;    /* "host:port[,host:port...]" */
    int timeout_ms;       /* bound on a command's whole life, retries included */
    int min_replica_acks; /* durable writes: replicas that must acknowledge; -1 = 1 on a
                             cluster, 0 on a standalone node */
    int wait_timeout_ms;  /* the WAIT command's own timeout */
    int refresh_period_ms; /* topology refresh when nothing else asked for one */
    struct conn_auth auth; /* sent on every connection; its strings must outlive the cluster */
};

/* Counters for metrics and tests. */
struct cluster_stats {
    unsigned long long commands;     /* commands submitted */
    unsigned long long moved;        /* MOVED redirects followed */
    unsigned long long ask;          /* ASK redirects followed */
    unsigned long long retries;      /* TRYAGAIN/CLUSTERDOWN/LOADING/lost-connection retries */
    unsigned long long failures;     /* callbacks with reply == NULL */
    unsigned long long not_durable;  /* durable writes without enough replica acks */
    unsigned long long durable_degraded; /* durable writes acknowledged by fewer replicas than
                                        min_replica_acks: the master had no more healthy ones */
    unsigned long long refreshes;    /* topology refreshes completed */
    unsigned long long refused_full; /* durable writes Redis refused with -OOM (maxmemory) */
    bool storage_full;               /* the last durable write answered was refused so */
};

/* Creates the layer and starts connecting. Returns NULL and fills err when
 * the seed list cannot be parsed. */
struct cluster *cluster_new(struct event_base *base, const struct cluster_options *opts,
                            char err[256]);

/* Closes every connection; every pending callback runs with NULL. NULL is fine. */
void cluster_free(struct cluster *c);

/* Sends one command whose keys all hash to the slot of key[0..keylen). */
int cluster_command_argv(struct cluster *c, const char *key, size_t keylen,
                         cluster_reply_fn *cb, void *arg, int argc, const char **argv,
                         const size_t *argvlen);

/* The same for a write that must reach replicas: the command is followed by
 * WAIT on the same connection, and the reply is delivered only when enough
 * replicas acknowledged it (else NULL). */
int cluster_command_durable(struct cluster *c, const char *key, size_t keylen,
                            cluster_reply_fn *cb, void *arg, int argc, const char **argv,
                            const size_t *argvlen);

/* The same for a command without a key (CLUSTER INFO): it goes to a master
 * that answers, so that one failed master does not hold it up. */
int cluster_command_any_node(struct cluster *c, cluster_reply_fn *cb, void *arg, int argc,
                             const char **argv, const size_t *argvlen);

/* The address of a node for a connection of the caller's own (such as a
 * subscriber's): the n-th, counting round, of the nodes the latest topology
 * lists (masters and replicas), or of the seed nodes while the topology is
 * not known. host gets at most size bytes. 0, or -1 when there is none. */
int cluster_node_address(const struct cluster *c, unsigned n, char *host, size_t size,
                         int *port);
/* The index of the master serving slot in the latest topology (a
 * standalone node serves every slot), or -1 while it is not known. Indices
 * stay the same node's for the cluster's life. */
int cluster_slot_master(const struct cluster *c, unsigned slot);
/* The address of the node at index (as cluster_slot_master gives it); 0,
 * or -1 when there is none. host gets at most size bytes. */
int cluster_node_at(const struct cluster *c, int index, char *host, size_t size, int *port);
/* Asks for a topology refresh soon (bursts collapse into one), e.g. after a
 * subscriber connection learned that a slot moved. */
void cluster_refresh_soon(struct cluster *c);
/* The credentials for such a connection; they live as long as c. */
const struct conn_auth *cluster_auth(const struct cluster *c);

/* True when the topology is known, every slot has a master and more than
 * half of the masters answer (connected, nothing unanswered for 300 ms): a
 * quick local answer for readiness checks. One failed master (whose slots fail over) leaves
 * every chatd alike, so it does not make this one unready; a chatd cut off
 * from most of the cluster is. */
bool cluster_is_ready(const struct cluster *c);
const struct cluster_stats *cluster_get_stats(const struct cluster *c);

#endif
