/*
 * stream_sock: a client connection's socket. One read event (persistent,
 * registered with the kernel once for the connection's life) hands the
 * client's bytes to a reader, or drops them when there is none; and, only
 * while bytes wait for the socket, a queue and a write event with a write
 * timeout. Replies are written at once where the socket takes them, so a
 * request and its reply cost no change of the kernel's interest list.
 * Ending a socket writes out what is queued, shuts it down and lingers,
 * dropping input, until the client's FIN.
 *
 * on_gone and drained never run inside the call that causes them (closed
 * may, see stream_sock_end). Loop thread only;
 * another thread may send() on stream_sock_fd() between two calls into this
 * module (sse_fanout's helpers do), never during one.
 */
#ifndef CHAT_STREAM_SOCK_H
#define CHAT_STREAM_SOCK_H

#include <event2/buffer.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct event_base;
struct evhttp_connection;
struct stream_sock;
/* The sockets of one HTTP server that ended and are still writing or
 * lingering. */
struct stream_socks;

/* The client went away (end of input, a failed write, or write_timeout_s
 * without progress), while the socket was still in use. */
typedef void stream_sock_gone_fn(void *arg);
/* The queue is empty again. evcon is always NULL (the type is kept for
 * the routes' callbacks). */
typedef void stream_sock_drained_fn(struct evhttp_connection *evcon, void *arg);
/* An ended socket is closed: written out, or given up. */
typedef void stream_sock_closed_fn(void *arg);
/* The socket has bytes to read (or its end): the reader reads them itself
 * (stream_sock_recv). Returns 0 to go on, 1 when it ended the stream
 * meanwhile (s must not be touched again), -1 when the client is gone (s
 * reports it as for a failed write). */
typedef int stream_sock_read_fn(void *arg);

/* Serves an accepted socket fd (non-blocking); on_gone runs when the
 * client goes away. NULL when out of memory (fd is left open). */
struct stream_sock *stream_sock_open(struct stream_socks *set, struct event_base *base, int fd,
                                     int write_timeout_s, stream_sock_gone_fn *on_gone, void *arg);

/* Stops (hold) or resumes reading the client's bytes: input waits in the
 * kernel meanwhile, and its end is not noticed. */
void stream_sock_hold_input(struct stream_sock *s, bool hold);
/* Runs the reader soon, from the loop, as if bytes had arrived. */
void stream_sock_poke(struct stream_sock *s);
/* Writes buf's bytes (buf is emptied) at once where the socket takes
 * them. True when nothing waits; else the rest is queued and drained (may
 * be NULL: an earlier one stays) runs once the queue is empty. */
bool stream_sock_write(struct stream_sock *s, struct evbuffer *buf,
                       stream_sock_drained_fn *drained, void *arg);

/* Hands the client's bytes to fn instead of dropping them (a protocol
 * that listens, such as WebSocket); NULL drops them again. Ending the
 * stream drops them too. */
void stream_sock_set_reader(struct stream_sock *s, stream_sock_read_fn *fn, void *arg);
/* recv() on the socket, without blocking: bytes read, 0 at the end of
 * input, -1 with errno (EAGAIN when nothing is there). */
ssize_t stream_sock_recv(struct stream_sock *s, void *buf, size_t len);

/* The socket, or -1 once the client is gone. */
int stream_sock_fd(const struct stream_sock *s);
/* Bytes queued, not yet taken by the socket. */
size_t stream_sock_backlog(const struct stream_sock *s);

/* Queues buf's bytes (buf is emptied) behind what is queued; drained (may
 * be NULL) runs once the queue is empty, and replaces one given earlier
 * that has not run yet. */
void stream_sock_send(struct stream_sock *s, struct evbuffer *buf, stream_sock_drained_fn *drained,
                      void *arg);
/* Queues len bytes at data by reference; cleanup(data, len, arg) runs when
 * they are written or dropped. For bytes a send() did not take. */
void stream_sock_queue_ref(struct stream_sock *s, const char *data, size_t len,
                           evbuffer_ref_cleanup_cb cleanup, void *arg);

/* Ends the stream: what is queued and then tail (len bytes; may be 0) are
 * written, the socket is shut down, and closed(arg) runs once; the socket
 * itself stays open a little longer (at most 2 s, until the client's FIN),
 * dropping its input, so that closing with unread input does not reset
 * the connection before the client read the last bytes;
 * s is gone for the caller at once. closed runs inside this call when
 * nothing is left to write (or the client is gone already). */
void stream_sock_end(struct stream_sock *s, const char *tail, size_t len,
                     stream_sock_closed_fn *closed, void *arg);
/* Closes at once, dropping what is queued. NULL is fine. */
void stream_sock_free(struct stream_sock *s);
/* An empty set; NULL when out of memory. */
struct stream_socks *stream_socks_new(void);
/* At shutdown: closes every ended socket still writing (each closed
 * callback runs), and frees the set. NULL is
 * fine. */
void stream_socks_free(struct stream_socks *set);

#endif
