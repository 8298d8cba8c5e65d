/* ws_handshake: the WebSocket opening handshake, see ws_handshake.h. */
#include "ws_handshake.h"

#include <nettle/sha1.h>
#include <sodium.h>
#include <string.h>
#include <strings.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_KEY_LEN 24 /* base64 of 16 bytes, with padding */
#define WS_KEY_BYTES 16

bool ws_handshake_has_token(const char *list, const char *token) {
    size_t want = strlen(token);
    for (const char *p = list; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        const char *end = p;
        while (*end && *end != ',') end++;
        const char *last = end;
        while (last > p && (last[-1] == ' ' || last[-1] == '\t')) last--;
        if ((size_t)(last - p) == want && strncasecmp(p, token, want) == 0) return true;
        p = end;
    }
    return false;
}

/* A key is the base64 (with padding) of exactly 16 bytes. */
static bool key_valid(const char *key) {
    unsigned char raw[WS_KEY_BYTES + 2];
    size_t len = 0;
    if (!key || strlen(key) != WS_KEY_LEN) return false;
    return sodium_base642bin(raw, sizeof(raw), key, WS_KEY_LEN, NULL, &len, NULL,
                             sodium_base64_VARIANT_ORIGINAL) == 0 &&
           len == WS_KEY_BYTES;
}

static void accept_of(const char *key, char accept[WS_ACCEPT_LEN + 1]) {
    struct sha1_ctx ctx;
    uint8_t digest[SHA1_DIGEST_SIZE];
    sha1_init(&ctx);
    sha1_update(&ctx, strlen(key), (const uint8_t *)key);
    sha1_update(&ctx, sizeof(WS_GUID) - 1, (const uint8_t *)WS_GUID);
    sha1_digest(&ctx, sizeof(digest), digest);
    sodium_bin2base64(accept, WS_ACCEPT_LEN + 1, digest, sizeof(digest),
                      sodium_base64_VARIANT_ORIGINAL);
}

api_error ws_handshake_check(const struct ws_handshake *h, char accept[WS_ACCEPT_LEN + 1]) {
    if (!ws_handshake_has_token(h->upgrade, "websocket") ||
        !ws_handshake_has_token(h->connection, "upgrade"))
        return API_E_UPGRADE_REQUIRED;
    if (!h->version || strcmp(h->version, "13") != 0) return API_E_WS_VERSION;
    if (!key_valid(h->key)) return API_E_WS_KEY;
    accept_of(h->key, accept);
    return API_E_OK;
}
