/*
 * history_gap: the signal a client gets when it resumes from a position
 * older than what its room still keeps (retention trimmed the messages
 * right after it). Every read path that takes a cursor asks once, before
 * its first read, and tells the client: an SSE event on the streams
 *
 *   event: gap
 *   data: {"room":"<room>","first":"<oldest id kept>","trimmed":true}
 *
 * and the header `X-History-Gap: <oldest id kept>` on the JSON replies of
 * the history and the long-poll. ("first" is null, the header "none", when
 * nothing is kept.) The check is one XINFO STREAM (O(1)); see
 * history_gap_is_after for what it compares.
 */
#ifndef CHAT_HISTORY_GAP_H
#define CHAT_HISTORY_GAP_H

#include <stdbool.h>

#include "store.h"

struct evbuffer;

#define HISTORY_GAP_HEADER "X-History-Gap"

/* Whether messages with ids greater than cursor were removed from the
 * stream that kept holds: entries were trimmed and the cursor lies before
 * the oldest one kept, or before the newest one XDEL removed. (When the
 * cursor is itself the newest trimmed entry nothing after it is missing,
 * yet this says so: the trim leaves no trace of which ids it removed.) */
bool history_gap_is_after(const struct store_retained *kept, const char *cursor);

/* Receives, on STORE_OK, first: NULL when nothing after the cursor is
 * missing, else the oldest id kept ("" when none is). */
typedef void history_gap_fn(enum store_status st, const char *first, void *arg);
/* Asks whether the room misses messages after cursor; as the store, -1
 * (cb never runs) or 0 (cb runs once, later). */
int history_gap_check(struct store *s, const char *room, const char *cursor, history_gap_fn *cb,
                      void *arg);

/* Appends the gap event of room (first as history_gap_fn gives it); 0 or -1. */
int history_gap_event_append(struct evbuffer *out, const char *room, const char *first);

/* The header's value for first: the id, or "none". */
const char *history_gap_header_value(const char *first);

#endif
