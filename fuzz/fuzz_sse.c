/*
 * fuzz_sse: any bytes as a Server-Sent Events stream into the client
 * library's parser (lib/sse.c), once whole and once cut in two at a point the
 * input's first byte picks (as network reads cut it). Both must give the
 * same events and the same result; an event's data never holds a CR, and
 * its size stays under the limit.
 */
#include "chatclient.h"
#include "fuzz.h"
#include "sse.h"

/* The events one run produced: each one's data, then a NUL. */
struct events {
    chat_buf all; /* the concatenated events */
    size_t count; /* how many */
};

static int on_event(const char *data, size_t len, void *arg) {
    struct events *ev = arg;
    FUZZ_ASSERT(data[len] == '\0' && len < CHAT_SSE_EVENT_MAX); /* NUL bytes may be inside */
    FUZZ_ASSERT(!memchr(data, '\r', len));
    ev->count++;
    FUZZ_ASSERT(chat__buf_append(&ev->all, data, len + 1) == 0);
    return 0;
}

/* Feeds data in two calls, cut at `cut`; returns the first non-zero result. */
static int run(const char *data, size_t size, size_t cut, struct events *ev) {
    sse_parser p = {.retry_ms = -1};
    int rc = chat__sse_feed(&p, data, cut, on_event, ev);
    if (rc == 0) rc = chat__sse_feed(&p, data + cut, size - cut, on_event, ev);
    chat__sse_parser_cleanup(&p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct events whole = {0}, cut = {0};
    size_t at = size ? data[0] % (size + 1) : 0;
    int rc_whole = run((const char *)data, size, size, &whole);
    int rc_cut = run((const char *)data, size, at, &cut);
    FUZZ_ASSERT(rc_whole == rc_cut);
    if (rc_whole == 0) {
        FUZZ_ASSERT(whole.count == cut.count && whole.all.len == cut.all.len);
        FUZZ_ASSERT(whole.all.len == 0 || memcmp(whole.all.data, cut.all.data, whole.all.len) == 0);
    }
    free(whole.all.data);
    free(cut.all.data);
    return 0;
}
