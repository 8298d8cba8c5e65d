/* client_addr: the client's address behind trusted proxies, see client_addr.h. */
#include "client_addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool is_space(char c) { return c == ' ' || c == '\t'; }

/* The item s[0..len) without the blanks around it. */
static void trim(const char **s, size_t *len) {
    while (*len && is_space(**s)) (*s)++, (*len)--;
    while (*len && is_space((*s)[*len - 1])) (*len)--;
}

void client_addr_normalise(const char *addr, char *out, size_t size) {
    struct in6_addr bin;
    char v4[INET_ADDRSTRLEN];
    if (inet_pton(AF_INET6, addr, &bin) == 1 && IN6_IS_ADDR_V4MAPPED(&bin) &&
        inet_ntop(AF_INET, &bin.s6_addr[12], v4, sizeof(v4))) {
        snprintf(out, size, "%s", v4);
        return;
    }
    snprintf(out, size, "%s", addr);
}

void client_addr_limit_key(const char *addr, char *out, size_t size) {
    struct in6_addr bin;
    if (inet_pton(AF_INET6, addr, &bin) == 1 && !IN6_IS_ADDR_V4MAPPED(&bin)) {
        char text[INET6_ADDRSTRLEN];
        memset(&bin.s6_addr[8], 0, 8);
        if (inet_ntop(AF_INET6, &bin, text, sizeof(text))) {
            snprintf(out, size, "%s/64", text);
            return;
        }
    }
    client_addr_normalise(addr, out, size);
}

bool client_addr_listed(const char *addr, const char *list) {
    char want[CLIENT_ADDR_MAX], item[CLIENT_ADDR_MAX], seen[CLIENT_ADDR_MAX];
    client_addr_normalise(addr, want, sizeof(want));
    while (list && *list) {
        const char *comma = strchr(list, ',');
        size_t len = comma ? (size_t)(comma - list) : strlen(list);
        const char *start = list;
        trim(&start, &len);
        if (len > 0 && len < sizeof(item)) {
            memcpy(item, start, len);
            item[len] = '\0';
            client_addr_normalise(item, seen, sizeof(seen));
            if (*want && strcmp(seen, want) == 0) return true;
        }
        list = comma ? comma + 1 : NULL;
    }
    return false;
}

/* True when s[0..len) is an IPv4 or IPv6 address in text form. */
static bool is_address(const char *s, size_t len) {
    char text[CLIENT_ADDR_MAX];
    unsigned char bin[sizeof(struct in6_addr)];
    if (len == 0 || len >= sizeof(text)) return false;
    memcpy(text, s, len);
    text[len] = '\0';
    return inet_pton(AF_INET, text, bin) == 1 || inet_pton(AF_INET6, text, bin) == 1;
}

void client_addr_pick(const char *peer, const char *forwarded_for, const char *trusted,
                      char *out, size_t size) {
    if (forwarded_for && client_addr_listed(peer, trusted)) {
        const char *comma = strrchr(forwarded_for, ',');
        const char *last = comma ? comma + 1 : forwarded_for;
        size_t len = strlen(last);
        trim(&last, &len);
        if (is_address(last, len)) {
            char text[CLIENT_ADDR_MAX];
            memcpy(text, last, len);
            text[len] = '\0';
            client_addr_normalise(text, out, size);
            return;
        }
    }
    client_addr_normalise(peer, out, size);
}

bool client_addr_forwarded_https(const char *peer, const char *forwarded_proto,
                                 const char *trusted) {
    if (!forwarded_proto || !client_addr_listed(peer, trusted)) return false;
    const char *comma = strrchr(forwarded_proto, ',');
    const char *last = comma ? comma + 1 : forwarded_proto;
    size_t len = strlen(last);
    trim(&last, &len);
    return len == 5 && strncasecmp(last, "https", 5) == 0;
}
