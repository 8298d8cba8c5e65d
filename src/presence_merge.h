/*
 * presence_merge: coalesces a room's presence signals (ephemeral.h) into one
 * event per interval. Each signal says who joined and who left in one
 * batch and the room's count after it; the merge keeps each user's last
 * change and the newest count, and the event it gives names the changed
 * users, or only how many changed when they are more than
 * PRESENCE_MERGE_LIST_MAX: a room of 10,000 with 100 changes a second
 * costs each subscriber one small event a second. Pure: no I/O.
 */
#ifndef CHAT_PRESENCE_MERGE_H
#define CHAT_PRESENCE_MERGE_H

#include <stdbool.h>
#include <stddef.h>

/* Changed users listed in one event at most; above, the count alone. */
#define PRESENCE_MERGE_LIST_MAX 50

struct presence_merge;

/* NULL when out of memory. */
struct presence_merge *presence_merge_new(void);
/* NULL is fine. */
void presence_merge_free(struct presence_merge *m);

/* Adds one signal's JSON (len bytes); -1 (nothing added) when it is not a
 * presence signal's object. */
int presence_merge_add(struct presence_merge *m, const char *json, size_t len);

/* Whether something was added since the last take. */
bool presence_merge_pending(const struct presence_merge *m);

/* The event of what was added, for room: {"room","count","joined":[...],
 * "left":[...]} or {"room","count","changes":N} above the list's limit;
 * malloc'ed (the caller frees it), NULL when out of memory. Starts over. */
char *presence_merge_take(struct presence_merge *m, const char *room);

#endif
