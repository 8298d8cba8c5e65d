/*
 * http_head: a request as http-parser reads it. The parser's callbacks
 * (http_head_settings) collect the URL and the header lines, each
 * NUL-terminated in one buffer, and the body, within chatd's limits: a head
 * over HTTP_MAX_HEADERS bytes or HTTP_MAX_FIELDS lines, a body over the
 * reader's cap, or a body framed by a transfer coding other than chunked is
 * refused (the reason is left in the reader). The parser pauses after each
 * complete request, so that pipelined requests are served one at a time.
 * No I/O: http_conn feeds it, fuzz/fuzz_http_request.c too.
 */
#ifndef CHAT_HTTP_HEAD_H
#define CHAT_HTTP_HEAD_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"

/* A request line and headers up to HTTP_MAX_HEADERS bytes are served; the
 * parser reads up to HTTP_READ_HEADERS of them before it refuses. Either way
 * the answer is a 431. */
#define HTTP_MAX_HEADERS 16384
#define HTTP_READ_HEADERS 65536
#define HTTP_MAX_FIELDS 100 /* header lines per request; more: 431 */
#define HTTP_HEAD_KNOWN 8   /* slots for the values of headers the server reads often */

/* The request being read: the URL and the header lines, each NUL-terminated
 * in bytes (kept as offsets, since bytes grows), and the body. */
struct http_head {
    char *bytes;
    uint32_t len;
    size_t cap;
    uint32_t url_end;                /* the URL is bytes[0..url_end) */
    uint32_t count;                  /* header lines */
    uint32_t name[HTTP_MAX_FIELDS];  /* offsets of the names */
    uint32_t value[HTTP_MAX_FIELDS]; /* and of the values (UINT32_MAX: none) */
    bool in_value;                   /* the parser's last piece was a value */
    bool url_done;                   /* the URL is terminated */
    bool headers_done;               /* the head is complete (a trailer is not kept) */
    const char *known[HTTP_HEAD_KNOWN]; /* the server's slots (NULL when reset) */
    char *body;                      /* NUL-terminated, body_len bytes */
    size_t body_len, body_cap;
};

/* What the callbacks fill: the parser's data points at it. */
struct http_head_reader {
    struct http_head *head;   /* made at the first request, reused by the next */
    size_t body_cap;          /* a longer body is refused */
    api_error refusal;        /* why a callback failed (API_E_OK: a syntax error) */
    bool message_done;        /* a complete request is in head (the parser paused) */
    bool expects_continue;    /* the client waits for "100 Continue" before its body */
};

/* The callbacks, for every parser of the server. */
void http_head_settings(http_parser_settings *s);
/* The value of the first header named name (any case), or NULL. */
const char *http_head_find(const struct http_head *h, const char *name);
/* NULL is fine. */
void http_head_free(struct http_head *h);

#endif
