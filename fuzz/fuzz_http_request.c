/*
 * fuzz_http_request: any bytes as what a client sends on one connection,
 * through http-parser with chatd's head callbacks (http_head.c), the way
 * http_conn feeds them: in two reads split where the first byte says, one
 * request at a time (the parser pauses after each), until the bytes end or
 * the parser refuses them. Every complete request has a NUL-terminated URL
 * and header lines inside the head's buffer, at most HTTP_MAX_FIELDS of
 * them, a head within the read limit and a body within the cap.
 */
#include <http_parser.h>

#include "fuzz.h"
#include "http_head.h"

#define BODY_CAP 4096

/* The invariants of a complete request's head. */
static void check_head(const struct http_head *h, size_t body_cap) {
    FUZZ_ASSERT(h && h->url_done && h->url_end < h->len && h->bytes[h->url_end] == '\0');
    FUZZ_ASSERT(h->count <= HTTP_MAX_FIELDS && h->len <= HTTP_MAX_HEADERS + 1);
    for (uint32_t i = 0; i < h->count; i++) {
        FUZZ_ASSERT(h->name[i] < h->len && memchr(h->bytes + h->name[i], '\0', h->len - h->name[i]));
        if (h->value[i] == UINT32_MAX) continue;
        FUZZ_ASSERT(h->value[i] < h->len && h->bytes[h->value[i] - 1] == '\0');
        FUZZ_ASSERT(memchr(h->bytes + h->value[i], '\0', h->len - h->value[i]));
    }
    FUZZ_ASSERT(h->body_len <= body_cap);
    FUZZ_ASSERT(h->body_len == 0 || h->body[h->body_len] == '\0');
}

/* Feeds data[0..len) as one read; false when the connection would close. */
static bool feed(http_parser *p, const http_parser_settings *s, struct http_head_reader *rd,
                 const char *data, size_t len) {
    while (len > 0 || rd->message_done) {
        size_t used = http_parser_execute(p, s, data, len);
        FUZZ_ASSERT(used <= len);
        enum http_errno err = HTTP_PARSER_ERRNO(p);
        if (err == HPE_PAUSED) http_parser_pause(p, 0);
        else if (err != HPE_OK) return false;
        if (!rd->message_done) return used == len;
        check_head(rd->head, rd->body_cap);
        rd->message_done = false;
        if (p->upgrade) return false; /* the rest is another protocol's */
        data += used;
        len -= used;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static http_parser_settings settings;
    if (!settings.on_message_begin) {
        http_head_settings(&settings);
        http_parser_set_max_header_size(HTTP_READ_HEADERS);
    }
    http_parser p;
    http_parser_init(&p, HTTP_REQUEST);
    p.lenient_http_headers = 1; /* as http_conn sets it */
    struct http_head_reader rd = {.body_cap = BODY_CAP};
    p.data = &rd;
    size_t split = size ? data[0] % (size + 1) : 0;
    const char *bytes = (const char *)data;
    if (feed(&p, &settings, &rd, bytes, split)) feed(&p, &settings, &rd, bytes + split, size - split);
    http_head_free(rd.head);
    return 0;
}
