/*
 * fuzz_ws_upgrade: any bytes as the four headers of a WebSocket upgrade
 * (Upgrade, Connection, Sec-WebSocket-Version, Sec-WebSocket-Key, split at
 * NUL bytes; a missing one is absent) through ws_handshake_check. An
 * accepted upgrade names websocket and upgrade, is version 13, and gets a
 * 28-character base64 accept value; a refusal is one of the three errors.
 */
#include <sodium.h>

#include "fuzz.h"
#include "ws_handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *copy = malloc(size + 1);
    FUZZ_ASSERT(copy);
    memcpy(copy, data, size);
    copy[size] = '\0';
    const char *fields[4] = {NULL, NULL, NULL, NULL};
    size_t at = 0;
    for (int i = 0; i < 4 && at <= size; i++) {
        fields[i] = copy + at;
        at += strlen(copy + at) + 1;
    }
    struct ws_handshake h = {fields[0], fields[1], fields[2], fields[3]};
    char accept[WS_ACCEPT_LEN + 1];
    api_error e = ws_handshake_check(&h, accept);
    if (e == API_E_OK) {
        FUZZ_ASSERT(ws_handshake_has_token(h.upgrade, "websocket"));
        FUZZ_ASSERT(ws_handshake_has_token(h.connection, "upgrade"));
        FUZZ_ASSERT(strcmp(h.version, "13") == 0);
        FUZZ_ASSERT(strlen(accept) == WS_ACCEPT_LEN);
        unsigned char raw[32];
        size_t len;
        FUZZ_ASSERT(sodium_base642bin(raw, sizeof(raw), accept, WS_ACCEPT_LEN, NULL, &len, NULL,
                                      sodium_base64_VARIANT_ORIGINAL) == 0 && len == 20);
    } else {
        FUZZ_ASSERT(e == API_E_UPGRADE_REQUIRED || e == API_E_WS_VERSION || e == API_E_WS_KEY);
    }
    free(copy);
    return 0;
}
