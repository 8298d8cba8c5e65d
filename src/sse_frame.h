/*
 * sse_frame: the SSE transport's framer. The hub hands each live message to
 * every subscriber; the event streams need it as a Server-Sent Events frame
 * ("id: <id>\ndata: <json>\n\n"). The framer encodes a message at the first
 * stream that asks and hands the same bytes to every other one, until the
 * hub's delivery of that message ends (sse_frame_clear): one encoding per
 * message, not per subscriber. A second transport keeps a framer of its own.
 */
#ifndef CHAT_SSE_FRAME_H
#define CHAT_SSE_FRAME_H

#include <stddef.h>

#include "message.h"

struct sse_frame;

/* NULL when out of memory. */
struct sse_frame *sse_frame_new(void);
/* NULL is fine. */
void sse_frame_free(struct sse_frame *f);

/* The frame of m (len bytes), encoded at the first call for m and valid
 * until sse_frame_clear; NULL when m cannot be encoded (its text is not
 * valid UTF-8) or memory ran out: the message is left out. */
const char *sse_frame_of(struct sse_frame *f, const struct message *m, size_t *len);

/* Forgets the frame, once the delivery of its message is over and the
 * bytes written (fanout_flush). */
void sse_frame_clear(struct sse_frame *f);

#endif
