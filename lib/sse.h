/*
 * The Server-Sent Events parser of libchatclient (sse.c): no I/O, bytes in
 * and "message" events out, as the WHATWG HTML standard's "event stream
 * interpretation" describes it; and chat_buf, the growable byte buffer that
 * the parser and the client share. Internal: not part of include/chatclient.h.
 */
#ifndef CHAT_SSE_H
#define CHAT_SSE_H

#include <stddef.h>

#define CHAT_SSE_EVENT_MAX (1024L * 1024) /* the largest event (or line) we accept */

/* A growable byte buffer for a response body. */
typedef struct chat_buf {
    char *data; /* the bytes, NUL-terminated when data is not NULL */
    size_t len; /* bytes used, without the terminating NUL */
    size_t cap; /* bytes allocated */
} chat_buf;

/* Appends n bytes to b, growing it geometrically; -1 on OOM or overflow. */
int chat__buf_append(chat_buf *b, const char *data, size_t n);

/* Receives the data of one complete "message" event (NUL-terminated, lines
 * joined by '\n'); returns 0 to go on, anything else to stop the parser. */
typedef int sse_event_fn(const char *data, size_t len, void *arg);

/* The state of one event stream being parsed, as the WHATWG HTML standard's
 * "event stream interpretation" describes it. */
typedef struct sse_parser {
    chat_buf line; /* the line being read, without its end */
    chat_buf data; /* the event's data lines, each followed by '\n' */
    int skip_lf;   /* the last line ended with CR: an LF right after it belongs to it */
    int bom;       /* bytes of a leading UTF-8 BOM seen; 3 once past the start */
    int foreign;   /* the event has an "event:" type other than "message" */
    char type[16]; /* that type when it is short, else "" */
    /* Receives the data of each "typing" and "presence" event, or NULL. */
    void (*on_signal)(const char *type, const char *data, size_t len, void *arg);
    void *signal_arg;
    long retry_ms; /* the last valid "retry:" value, -1 before one; kept across streams */
} sse_parser;

/* Forgets a stream's partial line and event, keeping retry_ms, for a new stream. */
void chat__sse_parser_reset(sse_parser *p);

/* Frees the parser's buffers and zeroes it. */
void chat__sse_parser_cleanup(sse_parser *p);

/* Feeds n bytes of the stream to the parser; calls fn for each complete
 * message event. Returns 0, fn's non-zero answer, CHAT_ERR_PROTOCOL for a
 * line or event over CHAT_SSE_EVENT_MAX or CHAT_ERR_NOMEM. */
int chat__sse_feed(sse_parser *p, const char *bytes, size_t n, sse_event_fn *fn, void *arg);

#endif
