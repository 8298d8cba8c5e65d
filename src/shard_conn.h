/*
 * shard_conn: one connection to one Redis node for sharded pub/sub
 * (SSUBSCRIBE). hiredis 0.14's async layer knows SUBSCRIBE but not
 * SSUBSCRIBE (it would take the pushed "smessage" replies for answers
 * nobody asked for), so this connection is a bufferevent that feeds
 * hiredis's reply parser itself and hands every reply over as it comes:
 * confirmations, pushed messages and errors alike, in order.
 *
 * Contract: on_reply runs for each reply (freed after it returns); on_down
 * runs once when the connection failed or was closed by the peer, and
 * nothing runs after it. Neither runs after shard_conn_free(), which must
 * not be called inside them. There is no reconnection: the owner makes a
 * new connection when it wants one.
 */
#ifndef CHAT_SHARD_CONN_H
#define CHAT_SHARD_CONN_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct redisReply;
struct conn_auth;
struct shard_conn;

typedef void shard_reply_fn(struct shard_conn *sc, struct redisReply *reply, void *arg);
typedef void shard_down_fn(struct shard_conn *sc, void *arg);

/* Starts connecting to host:port, sending AUTH first when auth has a
 * password (auth, NULL for none, must outlive the connection). NULL when
 * it cannot start. */
struct shard_conn *shard_conn_new(struct event_base *base, const char *host, int port,
                                  const struct conn_auth *auth, shard_reply_fn *on_reply,
                                  shard_down_fn *on_down, void *arg);
/* Closes the connection; no callback runs. NULL is fine. */
void shard_conn_free(struct shard_conn *sc);
/* Queues a formatted command (sent once connected); -1 once it is down. */
int shard_conn_send(struct shard_conn *sc, const char *cmd, size_t len);
/* False once on_down ran. */
bool shard_conn_is_alive(const struct shard_conn *sc);

#endif
