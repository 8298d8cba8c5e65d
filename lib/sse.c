/*
 * The Server-Sent Events parser of libchatclient, and chat_buf, the byte
 * buffer it shares with the client. No I/O: bytes in, events out, so it can
 * be tested and fuzzed without a network. chat_tail() (tail.c) feeds it.
 */
#include "sse.h"

#include "chatclient.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHAT_BUF_MIN 4096 /* a buffer's first allocation */

/* Appends n bytes to b, growing it geometrically; -1 on OOM or overflow. */
int chat__buf_append(chat_buf *b, const char *data, size_t n) {
    if (n > SIZE_MAX / 2 - b->len - 1) return -1;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : CHAT_BUF_MIN;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown) return -1;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

/* Forgets a stream's partial line and event, keeping retry_ms, for a new stream. */
void chat__sse_parser_reset(sse_parser *p) {
    p->line.len = 0;
    p->data.len = 0;
    p->skip_lf = 0;
    p->bom = 0;
    p->foreign = 0;
    p->type[0] = '\0';
}

void chat__sse_parser_cleanup(sse_parser *p) {
    free(p->line.data);
    free(p->data.data);
    memset(p, 0, sizeof *p);
}

/* Ends the event at a blank line: hands its data on unless there is none or
 * its type is not "message". */
static int sse_dispatch(sse_parser *p, sse_event_fn *fn, void *arg) {
    int foreign = p->foreign, rc = 0;
    p->foreign = 0;
    if (p->data.len == 0) return 0;
    p->data.data[--p->data.len] = '\0'; /* the last line's '\n' */
    if (!foreign) rc = fn(p->data.data, p->data.len, arg);
    else if (p->on_signal && (strcmp(p->type, "typing") == 0 || strcmp(p->type, "presence") == 0))
        p->on_signal(p->type, p->data.data, p->data.len, p->signal_arg);
    p->data.len = 0;
    p->type[0] = '\0';
    return rc;
}

/* Whether the field name (len bytes) is name. */
static int sse_field_is(const char *field, size_t len, const char *name) {
    return strlen(name) == len && memcmp(field, name, len) == 0;
}

/* Takes the complete line in p->line: a blank line ends the event, ':'
 * starts a comment, anything else is "field" or "field: value". The "id"
 * field is not needed: every message carries its id in its JSON. */
static int sse_line(sse_parser *p, sse_event_fn *fn, void *arg) {
    const char *line = p->line.data;
    size_t len = p->line.len;
    if (len == 0) return sse_dispatch(p, fn, arg);
    if (line[0] == ':') return 0;
    const char *colon = memchr(line, ':', len), *end = line + len;
    size_t name_len = colon ? (size_t)(colon - line) : len;
    const char *value = colon ? colon + 1 : end;
    if (value < end && *value == ' ') value++;
    size_t value_len = (size_t)(end - value);
    if (sse_field_is(line, name_len, "data")) {
        if (p->data.len + value_len >= CHAT_SSE_EVENT_MAX) return CHAT_ERR_PROTOCOL;
        if (chat__buf_append(&p->data, value, value_len) != 0 ||
            chat__buf_append(&p->data, "\n", 1) != 0)
            return CHAT_ERR_NOMEM;
    } else if (sse_field_is(line, name_len, "event")) {
        p->foreign = value_len > 0 && !sse_field_is(value, value_len, "message");
        size_t kept = value_len < sizeof p->type ? value_len : 0;
        memcpy(p->type, value, kept);
        p->type[kept] = '\0';
    } else if (sse_field_is(line, name_len, "retry") && value_len > 0 && value_len <= 9 &&
               strspn(value, "0123456789") >= value_len) {
        p->retry_ms = strtol(value, NULL, 10);
    }
    return 0;
}

/* Skips a UTF-8 BOM at the very start of the stream, also when it comes in
 * pieces over several calls; advances *i past the bytes it takes. Bytes that
 * began like a BOM but were not one go back into the first line. */
static int sse_skip_bom(sse_parser *p, const char *bytes, size_t n, size_t *i) {
    static const char bom[3] = {'\xef', '\xbb', '\xbf'};
    while (*i < n && p->bom < 3) {
        if (bytes[*i] != bom[p->bom]) {
            int rc = chat__buf_append(&p->line, bom, (size_t)p->bom);
            p->bom = 3;
            return rc == 0 ? 0 : CHAT_ERR_NOMEM;
        }
        p->bom++;
        (*i)++;
    }
    return 0;
}

/* Feeds n bytes of the stream to the parser; calls fn for each complete
 * message event. Returns 0, fn's non-zero answer, CHAT_ERR_PROTOCOL for a
 * line or event over CHAT_SSE_EVENT_MAX or CHAT_ERR_NOMEM. Lines end with
 * CRLF, LF or CR, also when the CRLF is split between two calls. */
int chat__sse_feed(sse_parser *p, const char *bytes, size_t n, sse_event_fn *fn, void *arg) {
    size_t i = 0;
    if (p->bom < 3 && sse_skip_bom(p, bytes, n, &i) != 0) return CHAT_ERR_NOMEM;
    while (i < n) {
        if (p->skip_lf) {
            p->skip_lf = 0;
            if (bytes[i] == '\n' && ++i == n) break;
        }
        size_t end = i;
        while (end < n && bytes[end] != '\n' && bytes[end] != '\r')
            end++;
        if (p->line.len + (end - i) >= CHAT_SSE_EVENT_MAX) return CHAT_ERR_PROTOCOL;
        if (chat__buf_append(&p->line, bytes + i, end - i) != 0) return CHAT_ERR_NOMEM;
        if (end == n) break;
        p->skip_lf = bytes[end] == '\r';
        i = end + 1;
        int rc = sse_line(p, fn, arg);
        p->line.len = 0;
        if (rc != 0) return rc;
    }
    return 0;
}