/*
 * ws_handshake: the server's half of the WebSocket opening handshake
 * (RFC 6455 section 4.2), pure (no I/O): whether a GET asks for an upgrade
 * we can give, and the Sec-WebSocket-Accept value that proves we read its
 * key (base64 of the SHA-1 of the key and the RFC's GUID; SHA-1 from
 * nettle, base64 from libsodium).
 */
#ifndef CHAT_WS_HANDSHAKE_H
#define CHAT_WS_HANDSHAKE_H

#include <stdbool.h>

#include "errors.h"

#define WS_ACCEPT_LEN 28 /* base64 of a 20-byte SHA-1, with padding */

/* The request headers the handshake reads (NULL when absent). */
struct ws_handshake {
    const char *upgrade;    /* Upgrade: must name "websocket" */
    const char *connection; /* Connection: must name "upgrade" among its tokens */
    const char *version;    /* Sec-WebSocket-Version: must be 13 */
    const char *key;        /* Sec-WebSocket-Key: base64 of 16 bytes */
};

/* Checks h and writes the accept value and its NUL into accept. API_E_OK,
 * API_E_UPGRADE_REQUIRED (no upgrade to websocket asked for),
 * API_E_WS_VERSION or API_E_WS_KEY. */
api_error ws_handshake_check(const struct ws_handshake *h, char accept[WS_ACCEPT_LEN + 1]);

/* Whether the comma-separated header value list names token (ASCII case
 * ignored, spaces around items skipped). */
bool ws_handshake_has_token(const char *list, const char *token);

#endif
