/* http_head: a request as http-parser reads it, see http_head.h. */
#include "http_head.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HEAD_START 1024 /* first size of a head's and a body's buffer */

void http_head_free(struct http_head *h) {
    if (!h) return;
    free(h->bytes);
    free(h->body);
    free(h);
}

/* Empties the head for the next request, keeping its buffers. */
static void head_reset(struct http_head *h) {
    h->len = h->url_end = h->count = 0;
    h->in_value = h->url_done = h->headers_done = false;
    h->body_len = 0;
    memset(h->known, 0, sizeof(h->known));
}

/* Makes *buf (of *cap bytes, NULL at first) hold at least need bytes,
 * doubling from HEAD_START; false when out of memory. */
static bool reserve(char **buf, size_t *cap, size_t need) {
    if (*buf && need <= *cap) return true;
    size_t grown = *cap ? *cap : HEAD_START;
    while (grown < need) grown *= 2;
    char *bytes = realloc(*buf, grown);
    if (!bytes) return false;
    *buf = bytes;
    *cap = grown;
    return true;
}

/* Appends len bytes (and keeps room for a NUL); false when out of memory
 * or beyond what is read of a head. */
static bool head_append(struct http_head *h, const char *at, size_t len) {
    if ((size_t)h->len + len + 1 > HTTP_READ_HEADERS + HTTP_MAX_FIELDS * 2) return false;
    if (!reserve(&h->bytes, &h->cap, h->len + len + 1)) return false;
    memcpy(h->bytes + h->len, at, len);
    h->len += (uint32_t)len;
    return true;
}

/* Ends the piece being appended with a NUL (trailing blanks cut). */
static void head_terminate(struct http_head *h, uint32_t from) {
    while (h->len > from && (h->bytes[h->len - 1] == ' ' || h->bytes[h->len - 1] == '\t')) h->len--;
    h->bytes[h->len++] = '\0';
}

static void head_end_url(struct http_head *h) {
    if (h->url_done) return;
    if (!h->bytes && !head_append(h, "", 0)) return;
    h->bytes[h->len++] = '\0';
    h->url_end = h->len - 1;
    h->url_done = true;
}

static struct http_head_reader *reader_of(http_parser *p) { return p->data; }

static int fail(struct http_head_reader *rd, api_error e) {
    rd->refusal = e;
    return -1;
}

static int on_message_begin(http_parser *p) {
    struct http_head_reader *rd = reader_of(p);
    if (!rd->head && !(rd->head = calloc(1, sizeof(*rd->head)))) return fail(rd, API_E_INTERNAL);
    head_reset(rd->head);
    rd->refusal = API_E_OK;
    rd->expects_continue = false;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
    struct http_head_reader *rd = reader_of(p);
    return head_append(rd->head, at, len) ? 0 : fail(rd, API_E_HEADERS_TOO_LARGE);
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
    struct http_head_reader *rd = reader_of(p);
    struct http_head *h = rd->head;
    if (h->headers_done) return 0; /* a chunked body's trailer: not kept */
    if (!h->url_done || h->in_value || h->count == 0) {
        if (h->url_done) head_terminate(h, h->value[h->count - 1]);
        else head_end_url(h);
        if (h->count == HTTP_MAX_FIELDS) return fail(rd, API_E_HEADERS_TOO_LARGE);
        h->name[h->count] = h->len;
        h->value[h->count] = UINT32_MAX; /* no value yet */
        h->count++;
        h->in_value = false;
    }
    return head_append(h, at, len) ? 0 : fail(rd, API_E_HEADERS_TOO_LARGE);
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
    struct http_head_reader *rd = reader_of(p);
    struct http_head *h = rd->head;
    if (h->headers_done) return 0;
    if (!h->in_value) {
        if (!head_append(h, "", 0)) return fail(rd, API_E_HEADERS_TOO_LARGE);
        h->bytes[h->len++] = '\0'; /* ends the name */
        h->value[h->count - 1] = h->len;
        h->in_value = true;
    }
    return head_append(h, at, len) ? 0 : fail(rd, API_E_HEADERS_TOO_LARGE);
}

const char *http_head_find(const struct http_head *h, const char *name) {
    for (uint32_t i = 0; i < h->count; i++)
        if (h->value[i] != UINT32_MAX && strcasecmp(h->bytes + h->name[i], name) == 0)
            return h->bytes + h->value[i];
    return NULL;
}

/* "Expect: 100-continue" of HTTP/1.1: the client waits for a word before
 * it sends the body. */
static bool expects_continue(const struct http_head *h, const http_parser *p) {
    const char *expect = http_head_find(h, "Expect");
    return expect && strcasecmp(expect, "100-continue") == 0 && p->http_minor >= 1;
}

static int on_headers_complete(http_parser *p) {
    struct http_head_reader *rd = reader_of(p);
    struct http_head *h = rd->head;
    if (!h->url_done) head_end_url(h);
    else if (h->in_value) head_terminate(h, h->value[h->count - 1]);
    else if (h->count && head_append(h, "", 0)) h->bytes[h->len++] = '\0'; /* a name alone */
    h->headers_done = true;
    if (!h->bytes || h->len > HTTP_MAX_HEADERS) return fail(rd, API_E_HEADERS_TOO_LARGE);
    /* a body framed by anything but chunks would run to the end of input */
    if (p->uses_transfer_encoding && !(p->flags & F_CHUNKED)) return fail(rd, API_E_BAD_REQUEST);
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > rd->body_cap)
        return fail(rd, API_E_BODY_TOO_LARGE);
    if ((p->flags & (F_CONTENTLENGTH | F_CHUNKED)) && !p->upgrade)
        rd->expects_continue = expects_continue(h, p);
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
    struct http_head_reader *rd = reader_of(p);
    struct http_head *h = rd->head;
    if (h->body_len + len > rd->body_cap) return fail(rd, API_E_BODY_TOO_LARGE);
    if (!reserve(&h->body, &h->body_cap, h->body_len + len + 1)) return fail(rd, API_E_INTERNAL);
    memcpy(h->body + h->body_len, at, len);
    h->body_len += len;
    h->body[h->body_len] = '\0';
    return 0;
}

static int on_message_complete(http_parser *p) {
    struct http_head_reader *rd = reader_of(p);
    rd->message_done = true;
    http_parser_pause(p, 1); /* one request at a time: the rest waits */
    return 0;
}

void http_head_settings(http_parser_settings *s) {
    http_parser_settings_init(s);
    s->on_message_begin = on_message_begin;
    s->on_url = on_url;
    s->on_header_field = on_header_field;
    s->on_header_value = on_header_value;
    s->on_headers_complete = on_headers_complete;
    s->on_body = on_body;
    s->on_message_complete = on_message_complete;
}

