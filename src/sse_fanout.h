/*
 * sse_fanout: writes one event to many open streams the cheap way. The event
 * is framed once (the chunk-size line, the bytes, the closing CRLF) into a
 * shared, reference-counted frame. A stream with nothing queued gets it with
 * one send() straight to its socket, as a minimal broadcaster would; only
 * what the socket does not take is queued, by reference to the shared bytes
 * (no copy), on the stream's socket (stream_sock.h), which writes it when
 * the socket can take more.
 *
 * A delivery is a batch: fanout_add() for every stream, then fanout_flush().
 * The send()s of a large batch are shared out between the event loop and
 * helper threads that do nothing but those system calls (the kernel's TCP
 * work is most of a loopback send); every libevent structure is touched by
 * the loop thread only, before and after. A write to a stream outside the
 * batch (fanout_write) flushes the batch first, so a stream's bytes always
 * go out in the order they were written.
 */
#ifndef CHAT_SSE_FANOUT_H
#define CHAT_SSE_FANOUT_H

#include <stddef.h>

struct request;
/* One server's fan-out: its pending batch and its helper threads. */
struct fanout;

/* A fan-out with n - 1 helper threads (n <= 1: the loop sends alone); NULL
 * when they cannot start. */
struct fanout *fanout_new(int n);
/* Stops the helpers and frees f. NULL is fine. */
void fanout_free(struct fanout *f);

/* Adds r (a started stream) to the batch writing data; a batch for other
 * bytes is flushed first. data must stay valid until fanout_flush(). */
void fanout_add(struct fanout *f, struct request *r, const char *data, size_t len);
/* Writes the pending batch out; nothing pending is fine. */
void fanout_flush(struct fanout *f);

/* Writes data to one stream at once (after flushing the batch). */
void fanout_write(struct fanout *f, struct request *r, const char *data, size_t len);

/* Writes data, bytes of this stream alone, to r without touching the
 * pending batch (which may be a hub delivery's, half-built): one send()
 * when nothing is queued, else queued behind what is. r must have nothing
 * in the batch. 0, or -1 when out of memory (nothing was written). */
int fanout_send_one(struct request *r, const char *data, size_t len);


#endif
