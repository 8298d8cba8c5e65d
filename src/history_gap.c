/* history_gap: whether a resuming client misses trimmed messages, and the
 * event and header that tell it so (history_gap.h). */
#include "history_gap.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>

#include "hub.h"

bool history_gap_is_after(const struct store_retained *kept, const char *cursor) {
    if (hub_id_compare(cursor, kept->deleted) < 0) return true;
    if (!kept->trimmed) return false;
    return !kept->first[0] || hub_id_compare(cursor, kept->first) < 0;
}

/* One check in flight. */
struct gap_op {
    history_gap_fn *cb;
    void *arg;
    char cursor[CHAT_STREAM_ID_MAX + 1];
};

static void on_retained(enum store_status st, const struct store_retained *kept, void *arg) {
    struct gap_op *op = arg;
    const char *first =
        st == STORE_OK && history_gap_is_after(kept, op->cursor) ? kept->first : NULL;
    op->cb(st, first, op->arg);
    free(op);
}

int history_gap_check(struct store *s, const char *room, const char *cursor, history_gap_fn *cb,
                      void *arg) {
    struct gap_op *op = malloc(sizeof(*op));
    if (!op) return -1;
    op->cb = cb;
    op->arg = arg;
    snprintf(op->cursor, sizeof(op->cursor), "%s", cursor);
    if (store_room_retained(s, room, on_retained, op) < 0) {
        free(op);
        return -1;
    }
    return 0;
}

int history_gap_event_append(struct evbuffer *out, const char *room, const char *first) {
    /* room and id are validated (a-z 0-9 _ - and digits): nothing to escape */
    int n = first[0] ? evbuffer_add_printf(out,
                                           "event: gap\ndata: {\"room\":\"%s\",\"first\":\"%s\","
                                           "\"trimmed\":true}\n\n",
                                           room, first)
                     : evbuffer_add_printf(out,
                                           "event: gap\ndata: {\"room\":\"%s\",\"first\":null,"
                                           "\"trimmed\":true}\n\n",
                                           room);
    return n < 0 ? -1 : 0;
}

const char *history_gap_header_value(const char *first) { return first[0] ? first : "none"; }
