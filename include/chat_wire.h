/*
 * chat_wire: the rules of the wire that the server (src/validate.c) and the
 * client library (lib/) share, written once: what a room name, a message
 * id (a Redis stream id) and a client message id look like, and the size
 * limits of what a client sends. Pure and header-only (no I/O, nothing to
 * link), so that both sides, their tests and the fuzzers apply the same
 * rules. Not part of the client library's API (chatclient.h).
 */
#ifndef CHAT_WIRE_H
#define CHAT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define CHAT_EMAIL_MAX 254         /* bytes of an e-mail address */
#define CHAT_PASSWORD_MIN 8        /* bytes of a password, at least */
#define CHAT_PASSWORD_MAX 1024     /* and at most */
#define CHAT_NAME_MAX_CHARS 64     /* characters of a display name */
#define CHAT_TEXT_MAX 4096         /* bytes of a message's text */
#define CHAT_ROOM_MAX 64           /* characters of a room name */
#define CHAT_CLIENT_MSG_ID_MAX 64  /* characters of a client message id */
#define CHAT_STREAM_ID_MAX 41      /* a message id: "<20 digits>-<20 digits>" */
#define CHAT_UNREAD_CAP 100        /* unread counts stop here: clients show "99+" */

/* Number of leading decimal digits of s when they are 1 to 20 and fit in
 * 64 bits (then *value gets them), else 0. */
static inline size_t chat_wire_id_part(const char *s, unsigned long long *value) {
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9') n++;
    if (n == 0 || n > 20 || (n == 20 && strncmp(s, "18446744073709551615", 20) > 0)) return 0;
    unsigned long long v = 0;
    for (size_t i = 0; i < n; i++) v = v * 10 + (unsigned long long)(s[i] - '0');
    *value = v;
    return n;
}

/* Splits a message id, "<ms>" or "<ms>-<seq>" with each part 1 to 20
 * decimal digits that fit in 64 bits, into part[0] = ms and part[1] = seq
 * (0 when absent). 0, or -1 when id is not one. */
static inline int chat_wire_stream_id_parse(const char *id, unsigned long long part[2]) {
    part[0] = part[1] = 0;
    size_t ms = chat_wire_id_part(id, &part[0]);
    if (ms == 0) return -1;
    if (id[ms] == '\0') return 0;
    if (id[ms] != '-') return -1;
    size_t seq = chat_wire_id_part(id + ms + 1, &part[1]);
    return seq > 0 && id[ms + 1 + seq] == '\0' ? 0 : -1;
}

/* Orders two parsed message ids like strcmp(). */
static inline int chat_wire_stream_id_compare(const unsigned long long a[2],
                                              const unsigned long long b[2]) {
    if (a[0] != b[0]) return a[0] < b[0] ? -1 : 1;
    return a[1] < b[1] ? -1 : a[1] > b[1];
}

/* A room name is 1 to CHAT_ROOM_MAX characters of [a-z0-9_-]. */
static inline bool chat_wire_room_valid(const char *name) {
    size_t len = strlen(name);
    return len > 0 && len <= CHAT_ROOM_MAX &&
           strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == len;
}

/* A client message id (clientMsgId, Idempotency-Key) is 1 to
 * CHAT_CLIENT_MSG_ID_MAX characters of [A-Za-z0-9._:-]; id need not be
 * NUL-terminated. */
static inline bool chat_wire_client_msg_id_valid(const char *id, size_t len) {
    if (len == 0 || len > CHAT_CLIENT_MSG_ID_MAX) return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok) return false;
    }
    return true;
}

#endif
