/*
 * sse_client: a Server-Sent Events subscriber for the tests, on its own
 * thread (libcurl). It records every event's id and data, and lets the test
 * wait for a number of events or for the stream's end.
 */
#ifndef CHAT_SSE_CLIENT_H
#define CHAT_SSE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#define SSE_ID_MAX 4096 /* the longest id kept (a multi-room stream's position) */

struct sse_event {
    char *id;   /* the event's id, "" for none */
    char *data; /* the event's data line(s) */
    char *event; /* its "event:" name, "" for none */
};

struct sse_client;

/* Connects to url (with Last-Event-ID when last_id is not NULL) and starts
 * collecting. NULL on failure. */
struct sse_client *sse_open(const char *url, const char *last_id);
/* The same as the user of a session token (NULL: anonymous). */
struct sse_client *sse_open_as(const char *url, const char *last_id, const char *token);
/* Waits until at least n events came (true) or timeout_ms passed or the
 * stream ended (false). */
bool sse_wait_events(struct sse_client *c, size_t n, int timeout_ms);
/* Waits until the stream ended (true) or timeout_ms passed (false). */
bool sse_wait_end(struct sse_client *c, int timeout_ms);
/* Events so far. */
size_t sse_count(struct sse_client *c);
/* Copies event i's id (48 bytes) and data (size bytes, cut); false if none. */
bool sse_get(struct sse_client *c, size_t i, char id[48], char *data, size_t size);
/* Copies event i's "event:" name ("" for none) into event[size]; false if
 * there is no event i. */
bool sse_get_event(struct sse_client *c, size_t i, char *event, size_t size);
/* Copies event i's id into id[size]; false if there is no event i. */
bool sse_get_id(struct sse_client *c, size_t i, char *id, size_t size);
/* The last id the stream set, also by a block with an id and no data, as an
 * EventSource keeps it for Last-Event-ID; "" before the first. */
void sse_last_id(struct sse_client *c, char *id, size_t size);
/* Waits until the stream set an id (true) or timeout_ms passed or the
 * stream ended (false). */
bool sse_wait_id(struct sse_client *c, int timeout_ms);
/* Stops the stream (if still open), joins the thread and frees everything. */
void sse_close(struct sse_client *c);

#endif
