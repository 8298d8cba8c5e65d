/* origin: does a request's Origin name the host it was sent to (origin.h). */
#include "origin.h"

#include <string.h>
#include <strings.h>

/* Length of authority without a trailing ":<port>" when port is the
 * scheme's default (so "example.com:443" and "example.com" compare equal). */
static size_t without_default_port(const char *authority, size_t len, const char *port) {
    size_t plen = strlen(port);
    if (len > plen + 1 && authority[len - plen - 1] == ':' &&
        strncmp(authority + len - plen, port, plen) == 0)
        return len - plen - 1;
    return len;
}

bool origin_matches_host(const char *origin, const char *host) {
    if (!origin || !host || !*host) return false;
    const char *rest, *port;
    if (strncasecmp(origin, "http://", 7) == 0) rest = origin + 7, port = "80";
    else if (strncasecmp(origin, "https://", 8) == 0) rest = origin + 8, port = "443";
    else return false; /* "null", file:, chrome-extension:, … */
    if (!*rest || strpbrk(rest, "/?#@ \t")) return false;
    size_t olen = without_default_port(rest, strlen(rest), port);
    size_t hlen = without_default_port(host, strlen(host), port);
    return olen == hlen && strncasecmp(rest, host, olen) == 0;
}
