/*
 * routes_static: GET / and the browser client's other files, from memory
 * (webroot.h), with an ETag (If-None-Match answers 304), Cache-Control
 * no-cache (browsers revalidate, so a deploy takes effect at the next load)
 * and the headers that keep the page from running anything but its own
 * script: a Content-Security-Policy without inline script or style, no
 * framing, no content sniffing, no referrer.
 */
#include "http.h"
#include "routes.h"
#include "server.h"
#include "webroot.h"

#include <event2/buffer.h>
#include <stdio.h>

/* Everything from our own origin only; no inline code, plugins or frames. */
#define STATIC_CSP                                                                         \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "            \
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "         \
    "frame-ancestors 'none'"

void route_static(struct request *r) {
    const struct web_file *f = webroot_find(r->srv->web, r->route);
    if (!f) {
        http_reply_error(r, API_E_NOT_FOUND, NULL);
        return;
    }
    http_add_header(r, "ETag", f->etag);
    http_add_header(r, "Cache-Control", "no-cache");
    http_add_header(r, "Content-Security-Policy", STATIC_CSP);
    http_add_header(r, "X-Content-Type-Options", "nosniff");
    http_add_header(r, "X-Frame-Options", "DENY");
    http_add_header(r, "Referrer-Policy", "no-referrer");
    if (webroot_etag_matches(http_header(r, "If-None-Match"), f->etag)) {
        http_reply_typed(r, 304, f->content_type, NULL);
        return;
    }
    if (http_is_head(r)) {
        char len[24]; /* a HEAD reply has no body: its length is said here */
        snprintf(len, sizeof(len), "%zu", f->len);
        http_add_header(r, "Content-Length", len);
        http_reply_typed(r, 200, f->content_type, NULL);
        return;
    }
    struct evbuffer *body = evbuffer_new();
    if (!body || evbuffer_add(body, f->data, f->len) < 0) {
        if (body) evbuffer_free(body);
        http_reply_error(r, API_E_INTERNAL, NULL);
        return;
    }
    http_reply_typed(r, 200, f->content_type, body);
    evbuffer_free(body);
}
