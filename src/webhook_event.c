/* webhook_event: event kinds, endpoints, shards, ids, bodies and signatures. */
#include "webhook_event.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[WEBHOOK_KIND_COUNT] = {
    "message.created", "message.edited",  "message.removed", "member.joined",   "member.left",
    "member.banned",   "user.registered", "member.role",     "member.unbanned", "room.created",
};

const char *webhook_kind_name(enum webhook_kind kind) {
    return (unsigned)kind < WEBHOOK_KIND_COUNT ? kind_names[kind] : NULL;
}

int webhook_kind_parse(const char *name, size_t len) {
    for (int k = 0; k < WEBHOOK_KIND_COUNT; k++)
        if (strlen(kind_names[k]) == len && memcmp(kind_names[k], name, len) == 0) return k;
    return -1;
}

/* Parses the kinds after an entry's URL (",kind,kind"); -1 on an unknown one. */
static int parse_kinds(const char *list, size_t len, unsigned *kinds, char err[256]) {
    *kinds = 0;
    while (len > 0) {
        const char *comma = memchr(list, ',', len);
        size_t n = comma ? (size_t)(comma - list) : len;
        int k = webhook_kind_parse(list, n);
        if (k < 0) {
            snprintf(err, 256, "--webhook: unknown event kind '%.*s'", (int)n, list);
            return -1;
        }
        *kinds |= 1u << k;
        list += comma ? n + 1 : n;
        len -= comma ? n + 1 : n;
    }
    if (!*kinds) *kinds = WEBHOOK_KINDS_ALL;
    return 0;
}

/* One "URL[,kind...]" entry of len bytes into e; -1 with err. */
static int parse_entry(const char *entry, size_t len, struct webhook_endpoint *e, char err[256]) {
    const char *comma = memchr(entry, ',', len);
    size_t url_len = comma ? (size_t)(comma - entry) : len;
    if (url_len >= WEBHOOK_URL_MAX ||
        (strncmp(entry, "http://", 7) != 0 && strncmp(entry, "https://", 8) != 0) || url_len <= 8) {
        snprintf(err, 256, "--webhook: expected URL[,kind...] with an http(s) URL, got '%.*s'",
                 (int)(len < 100 ? len : 100), entry);
        return -1;
    }
    memcpy(e->url, entry, url_len);
    e->url[url_len] = '\0';
    return comma ? parse_kinds(comma + 1, len - url_len - 1, &e->kinds, err)
                 : (e->kinds = WEBHOOK_KINDS_ALL, 0);
}

int webhook_endpoints_parse(const char *spec, struct webhook_endpoint *out, char err[256]) {
    int n = 0;
    for (const char *p = spec; *p;) {
        size_t skip = strspn(p, " \t\n"), len;
        p += skip;
        if (!*p) break;
        len = strcspn(p, " \t\n");
        if (n == WEBHOOK_ENDPOINTS_MAX) {
            snprintf(err, 256, "--webhook: at most %d URLs", WEBHOOK_ENDPOINTS_MAX);
            return -1;
        }
        if (parse_entry(p, len, &out[n], err) < 0) return -1;
        n++;
        p += len;
    }
    return n;
}

unsigned webhook_shard_of(const char *key, unsigned shards) {
    unsigned h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 16777619u;
    return shards ? h % shards : 0;
}

void webhook_event_id(char out[WEBHOOK_ID_LEN + 1], enum webhook_kind kind, const char *scope,
                      const char *ref) {
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    const char *name = webhook_kind_name(kind);
    crypto_hash_sha256_update(&st, (const unsigned char *)name, strlen(name) + 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)scope, strlen(scope) + 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)ref, strlen(ref));
    crypto_hash_sha256_final(&st, digest);
    memcpy(out, "evt_", 4);
    sodium_bin2hex(out + 4, WEBHOOK_ID_LEN - 4 + 1, digest, (WEBHOOK_ID_LEN - 4) / 2);
}

char *webhook_event_body(enum webhook_kind kind, const char *id, long long timestamp_ms,
                         json_t *data) {
    json_t *event = json_pack("{s:s,s:s,s:I,s:O}", "id", id, "type", webhook_kind_name(kind),
                              "timestamp", (json_int_t)timestamp_ms, "data", data);
    char *body = event ? json_dumps(event, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(event);
    return body;
}

void webhook_sign(char out[WEBHOOK_SIGNATURE_LEN + 1], const unsigned char *secret,
                  size_t secret_len, long long timestamp_s, const char *body, size_t body_len) {
    char ts[24];
    int n = snprintf(ts, sizeof(ts), "%lld.", timestamp_s);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, secret, secret_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, (unsigned long long)n);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, body_len);
    crypto_auth_hmacsha256_final(&st, mac);
    memcpy(out, "v1=", 3);
    sodium_bin2hex(out + 3, WEBHOOK_SIGNATURE_LEN - 3 + 1, mac, sizeof(mac));
}
