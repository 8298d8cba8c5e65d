/*
 * fuzz_auth_headers: any bytes as the Cookie and Authorization headers
 * (each alone, and split at the first newline into both), through
 * token_from_headers() in src/token.c. A token it finds must be well formed
 * and come from the input. The same bytes as an Authorization header go
 * through apikey_from_authorization() in src/apikey.c: a server-API key it
 * finds must be one, as it stood in the input.
 */
#include "apikey.h"
#include "fuzz.h"
#include "token.h"

static void check_apikey(const char *authorization) {
    struct apikey key;
    char text[APIKEY_LEN + 1], hash[APIKEY_HASH_LEN + 1];
    if (!apikey_from_authorization(authorization, &key)) return;
    FUZZ_ASSERT(apikey_id_valid(key.id) && strlen(key.secret) == APIKEY_SECRET_LEN);
    snprintf(text, sizeof(text), "%s%s_%s", APIKEY_PREFIX, key.id, key.secret);
    FUZZ_ASSERT(strstr(authorization, text) != NULL);
    apikey_hash(key.secret, hash);
    FUZZ_ASSERT(apikey_hash_matches(hash, hash));
}

static void check(const char *cookie, const char *authorization, const char *input) {
    char token[TOKEN_LEN + 1];
    char hash[TOKEN_HASH_LEN + 1];
    if (!token_from_headers(cookie, authorization, token)) return;
    FUZZ_ASSERT(strlen(token) == TOKEN_LEN && token_well_formed(token, TOKEN_LEN));
    FUZZ_ASSERT(strstr(input, token) != NULL);
    token_hash(token, hash);
    FUZZ_ASSERT(strlen(hash) == TOKEN_HASH_LEN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = fuzz_cstring(data, size);
    check(s, NULL, s);
    check(NULL, s, s);
    check_apikey(s);
    char *nl = strchr(s, '\n');
    if (nl) {
        char *whole = fuzz_cstring(data, size);
        *nl = '\0';
        check(s, nl + 1, whole);
        free(whole);
    }
    free(s);
    return 0;
}
