/*
 * origin: the cross-site request check for browsers (pure, no I/O). A page
 * of another site can make a browser send a request with our cookie; the
 * browser then names that page's origin in the Origin header. A request
 * that changes something is refused when its Origin is not our own, that
 * is when it does not name the host the request was sent to (the Host
 * header, which HAProxy passes on unchanged).
 */
#ifndef CHAT_ORIGIN_H
#define CHAT_ORIGIN_H

#include <stdbool.h>

/* True when origin ("http://host[:port]" or "https://…") names the same
 * host and port as the Host header value host, ignoring case and a port
 * that is the default of the origin's scheme. False for "null", another
 * scheme, anything with a path, or a missing host. Callers treat a request
 * without an Origin header as allowed (non-browser clients send none). */
bool origin_matches_host(const char *origin, const char *host);

#endif
