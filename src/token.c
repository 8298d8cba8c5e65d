/* token: generation, hashing and header parsing of session tokens. */
#include "token.h"

#include <sodium.h>
#include <string.h>
#include <strings.h>

void token_generate(char out[TOKEN_LEN + 1]) {
    unsigned char raw[TOKEN_BYTES];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(out, TOKEN_LEN + 1, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
}

void token_hash(const char *token, char out[TOKEN_HASH_LEN + 1]) {
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)token, strlen(token));
    sodium_bin2hex(out, TOKEN_HASH_LEN + 1, digest, sizeof(digest));
}

static bool is_base64url(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

bool token_well_formed(const char *s, size_t len) {
    if (len != TOKEN_LEN) return false;
    for (size_t i = 0; i < len; i++)
        if (!is_base64url((unsigned char)s[i])) return false;
    return true;
}

bool token_hash_well_formed(const char *s, size_t len) {
    if (len != TOKEN_HASH_LEN) return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

static bool copy_token(const char *s, size_t len, char out[TOKEN_LEN + 1]) {
    if (!token_well_formed(s, len)) return false;
    memcpy(out, s, len);
    out[len] = '\0';
    return true;
}

static bool from_authorization(const char *h, char out[TOKEN_LEN + 1]) {
    if (strncasecmp(h, "Bearer ", 7) != 0) return false;
    h += 7;
    while (*h == ' ') h++;
    size_t len = strlen(h);
    while (len && h[len - 1] == ' ') len--;
    return copy_token(h, len, out);
}

/* The value of the next "name=value" pair of *h called name (*len bytes,
 * as sent), or NULL when there is none; *h moves past it. */
static const char *next_cookie(const char **h, const char *name, size_t *len) {
    const size_t name_len = strlen(name);
    const char *p = *h;
    while (*p) {
        while (*p == ' ' || *p == ';') p++;
        size_t pair = strcspn(p, ";");
        const char *at = p;
        p += pair;
        if (pair > name_len && strncmp(at, name, name_len) == 0 && at[name_len] == '=') {
            *h = p;
            *len = pair - name_len - 1;
            return at + name_len + 1;
        }
    }
    *h = p;
    return NULL;
}

/* Takes the first well-formed token of the pairs called name. */
static bool from_cookie(const char *h, const char *name, char out[TOKEN_LEN + 1]) {
    size_t len;
    for (const char *v; (v = next_cookie(&h, name, &len));) {
        while (len && v[len - 1] == ' ') len--;
        if (len >= 2 && v[0] == '"' && v[len - 1] == '"') v++, len -= 2;
        if (copy_token(v, len, out)) return true;
    }
    return false;
}

/* Whether h has a pair called name with a value. */
static bool has_cookie(const char *h, const char *name) {
    size_t len;
    while (next_cookie(&h, name, &len))
        if (len > 0) return true;
    return false;
}

bool token_offered(const char *cookie, const char *authorization) {
    if (authorization && strncasecmp(authorization, "Bearer", 6) == 0) return true;
    return cookie && (has_cookie(cookie, TOKEN_COOKIE_HOST) || has_cookie(cookie, TOKEN_COOKIE));
}

bool token_from_headers(const char *cookie, const char *authorization,
                        char out[TOKEN_LEN + 1]) {
    if (authorization && from_authorization(authorization, out)) return true;
    return cookie && (from_cookie(cookie, TOKEN_COOKIE_HOST, out) ||
                      from_cookie(cookie, TOKEN_COOKIE, out));
}
