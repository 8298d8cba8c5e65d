/*
 * cluster_conn: one hiredis async connection to one Redis node, as used by
 * the cluster layer. It connects (and reconnects, with backoff) by itself,
 * pipelines formatted commands, and can drop itself when its oldest command
 * waits too long (hiredis 0.14 has no command timeouts).
 *
 * Contract: conn_send() returns -1 when the connection cannot take commands
 * now (down and waiting to reconnect, or closing); then fn is never called.
 * When it returns 0, fn runs exactly once: with the reply, or with NULL when
 * the connection was lost or dropped before the reply came.
 */
#ifndef CHAT_CLUSTER_CONN_H
#define CHAT_CLUSTER_CONN_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct redisReply;
struct conn;

typedef void conn_reply_fn(struct conn *conn, struct redisReply *reply, void *privdata);
/* Called when the connection comes up (up = true) or goes down. */
typedef void conn_state_fn(struct conn *conn, bool up, void *owner);

/* Credentials sent with AUTH first on every connection (user NULL or
 * empty: the default user; password NULL or empty: no AUTH). */
struct conn_auth {
    const char *user;
    const char *password;
};

/* Creates a connection to host:port and starts connecting; auth (NULL: no
 * AUTH) must outlive it. When stall_timeout_ms > 0, a command older than
 * that drops the connection. */
struct conn *conn_new(struct event_base *base, const char *host, int port,
                      const struct conn_auth *auth, int stall_timeout_ms, conn_state_fn *on_state,
                      void *owner);

/* Closes the connection; pending fns run with NULL first. NULL is fine. */
void conn_free(struct conn *conn);

/* Queues a formatted command (hiredis pipelines it, also while connecting). */
int conn_send(struct conn *conn, const char *cmd, size_t len, conn_reply_fn *fn, void *privdata);

/* Sends a formatted SUBSCRIBE to one channel: fn runs for the subscription's
 * confirmation, then for every message, and last once with NULL when the
 * connection is lost, dropped or freed (the subscription is not renewed
 * when the connection comes back). -1 when it cannot be sent now (then fn
 * never runs). One per connection, which then carries nothing else. */
int conn_subscribe(struct conn *conn, const char *cmd, size_t len, conn_reply_fn *fn,
                   void *privdata);

/* Drops the connection when its oldest command is older than the stall
 * timeout, or when connecting takes that long. now_ms is CLOCK_MONOTONIC. */
void conn_check(struct conn *conn, long long now_ms);

/* True when connected; false while connecting or down. */
bool conn_is_up(const struct conn *conn);
/* True when commands can be queued (connected or connecting). */
bool conn_is_usable(const struct conn *conn);
/* Commands sent and not answered yet. */
size_t conn_pending(const struct conn *conn);
/* When the oldest unanswered command was sent (CLOCK_MONOTONIC ms), or -1
 * when none is waiting. */
long long conn_oldest_sent_ms(const struct conn *conn);
const char *conn_host(const struct conn *conn);
int conn_port(const struct conn *conn);

/* Milliseconds on CLOCK_MONOTONIC. */
long long conn_now_ms(void);

#endif
