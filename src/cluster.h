/*
 * cluster: chatd's only way to Redis. It owns the hiredis async connections,
 * reconnects with backoff, and fails commands that wait longer than the
 * configured timeout (hiredis 0.14 has no command timeouts of its own).
 * Every command names the key it touches so that it can be routed by hash
 * slot; this version talks to one standalone node (the first seed).
 *
 * Contract: when cluster_command_argv() returns -1, the callback is never
 * called; when it returns 0, the callback runs exactly once, later, on the
 * loop thread: with the reply (which may be a Redis error reply), or with
 * reply == NULL when Redis could not answer in time (lost connection,
 * timeout, shutdown). The reply is freed after the callback returns.
 */
#ifndef CHAT_CLUSTER_H
#define CHAT_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct redisReply;
struct cluster;

typedef void cluster_reply_fn(struct redisReply *reply, void *arg);

/* Creates the layer and starts connecting to seeds ("host:port[,...]").
 * Returns NULL and fills err when the seed list cannot be parsed. */
struct cluster *cluster_new(struct event_base *base, const char *seeds, int timeout_ms,
                            char err[256]);

/* Closes every connection; pending callbacks run with reply == NULL. NULL is fine. */
void cluster_free(struct cluster *c);

/* Sends one command whose keys all hash to the slot of key[0..keylen). */
int cluster_command_argv(struct cluster *c, const char *key, size_t keylen,
                         cluster_reply_fn *cb, void *arg, int argc, const char **argv,
                         const size_t *argvlen);

/* True while a connection to Redis is established. */
bool cluster_connected(const struct cluster *c);

#endif
