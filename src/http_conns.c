/* http_conns: counting client connections, in all and per address, see http_conns.h. */
#include "http_conns.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr_slots.h"
#include "client_addr.h"
#include "metrics.h"

/* Beyond max_connections + this many, connections are cut at once. */
#define CONNS_RESERVE 64

/* The connection counts of one HTTP server. */
struct http_conns {
    struct metrics *metrics;        /* where the open and refused counts go */
    struct http_conns_limits limits;
    size_t open;                    /* connections counted */
    struct addr_slots *per_address; /* connections per peer address */
    unsigned long long refused;     /* accepted over the limit */
};

static void publish(struct http_conns *t) {
    metrics_connections(t->metrics, (long)t->open, t->refused);
}

struct http_conns *http_conns_new(const struct http_conns_limits *limits, struct metrics *metrics) {
    struct http_conns *t = calloc(1, sizeof(*t));
    if (!t || !(t->per_address = addr_slots_new(limits->max_per_address))) {
        free(t);
        return NULL;
    }
    t->limits = *limits;
    t->metrics = metrics;
    return t;
}

void http_conns_free(struct http_conns *t) {
    if (!t) return;
    addr_slots_free(t->per_address);
    free(t);
}

/* The key fd's peer is counted under, or "" when it is not counted (no
 * cap, a trusted proxy, not an IP socket). */
static void peer_key(const struct http_conns *t, int fd, char key[CLIENT_ADDR_MAX]) {
    struct sockaddr_storage ss = {.ss_family = AF_UNSPEC};
    socklen_t len = sizeof(ss);
    char peer[CLIENT_ADDR_MAX], text[CLIENT_ADDR_MAX];
    const void *bin = &((struct sockaddr_in *)&ss)->sin_addr;
    key[0] = '\0';
    if (!t->limits.max_per_address || getpeername(fd, (struct sockaddr *)&ss, &len) < 0) return;
    if (ss.ss_family == AF_INET6) bin = &((struct sockaddr_in6 *)&ss)->sin6_addr;
    else if (ss.ss_family != AF_INET) return;
    if (!inet_ntop(ss.ss_family, bin, text, sizeof(text))) return;
    client_addr_normalise(text, peer, sizeof(peer));
    if (client_addr_listed(peer, t->limits.trusted)) return;
    client_addr_limit_key(peer, key, CLIENT_ADDR_MAX);
}

enum http_conns_verdict http_conns_open(struct http_conns *t, int fd, char **address) {
    *address = NULL;
    if (t->open >= (size_t)t->limits.max_connections + CONNS_RESERVE) {
        t->refused++;
        publish(t);
        return HTTP_CONNS_CUT;
    }
    enum http_conns_verdict v = HTTP_CONNS_OK;
    char key[CLIENT_ADDR_MAX];
    peer_key(t, fd, key);
    if (key[0] && !addr_slots_take(t->per_address, key)) v = HTTP_CONNS_OVER_ADDRESS;
    else if (key[0] && !(*address = strdup(key))) addr_slots_release(t->per_address, key);
    t->open++;
    if (t->open > (size_t)t->limits.max_connections) {
        v = HTTP_CONNS_OVER_TOTAL;
        t->refused++;
    }
    publish(t);
    return v;
}

void http_conns_close(struct http_conns *t, char *address) {
    if (address) addr_slots_release(t->per_address, address);
    free(address);
    t->open--;
    publish(t);
}
