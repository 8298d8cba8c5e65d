/*
 * fuzz_auth_headers: any bytes as the Cookie and Authorization headers
 * (each alone, and split at the first newline into both), through
 * token_from_headers() in src/token.c. A token it finds must be well formed
 * and come from the input.
 */
#include "fuzz.h"
#include "token.h"

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
