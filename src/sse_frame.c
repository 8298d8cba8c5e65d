/* sse_frame: a live message as an SSE frame, encoded once, see sse_frame.h. */
#include "sse_frame.h"

#include <event2/buffer.h>
#include <stdlib.h>

#include "json.h"

struct sse_frame {
    struct evbuffer *buf;      /* the frame of msg */
    const struct message *msg; /* the message framed, NULL: none */
    const char *data;          /* buf's bytes, contiguous; NULL: msg could not be encoded */
    size_t len;                /* bytes at data */
};

struct sse_frame *sse_frame_new(void) {
    struct sse_frame *f = calloc(1, sizeof(*f));
    if (f && !(f->buf = evbuffer_new())) {
        free(f);
        return NULL;
    }
    return f;
}

void sse_frame_free(struct sse_frame *f) {
    if (!f) return;
    evbuffer_free(f->buf);
    free(f);
}

const char *sse_frame_of(struct sse_frame *f, const struct message *m, size_t *len) {
    if (f->msg != m) {
        sse_frame_clear(f);
        f->msg = m;
        if (json_message_event_append(f->buf, m) == 0) {
            f->len = evbuffer_get_length(f->buf);
            f->data = (const char *)evbuffer_pullup(f->buf, -1);
        }
    }
    *len = f->len;
    return f->data;
}

void sse_frame_clear(struct sse_frame *f) {
    evbuffer_drain(f->buf, evbuffer_get_length(f->buf));
    f->msg = NULL;
    f->data = NULL;
    f->len = 0;
}
