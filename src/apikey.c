/* apikey: the keys of the server API, see apikey.h. */
#include "apikey.h"

#include <sodium.h>
#include <string.h>
#include <strings.h>

#define PREFIX_LEN (sizeof(APIKEY_PREFIX) - 1)

static bool lower_hex(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

static void random_hex(char *out, size_t bytes) {
    unsigned char buf[APIKEY_SECRET_LEN / 2];
    randombytes_buf(buf, bytes);
    sodium_bin2hex(out, bytes * 2 + 1, buf, bytes);
    sodium_memzero(buf, sizeof(buf));
}

void apikey_generate(struct apikey *key, char text[APIKEY_LEN + 1]) {
    random_hex(key->id, APIKEY_ID_LEN / 2);
    random_hex(key->secret, APIKEY_SECRET_LEN / 2);
    memcpy(text, APIKEY_PREFIX, PREFIX_LEN);
    memcpy(text + PREFIX_LEN, key->id, APIKEY_ID_LEN);
    text[PREFIX_LEN + APIKEY_ID_LEN] = '_';
    memcpy(text + PREFIX_LEN + APIKEY_ID_LEN + 1, key->secret, APIKEY_SECRET_LEN + 1);
}

bool apikey_parse(const char *text, size_t len, struct apikey *out) {
    if (len != APIKEY_LEN || memcmp(text, APIKEY_PREFIX, PREFIX_LEN) != 0) return false;
    const char *id = text + PREFIX_LEN, *secret = id + APIKEY_ID_LEN + 1;
    if (id[APIKEY_ID_LEN] != '_' || !lower_hex(id, APIKEY_ID_LEN) ||
        !lower_hex(secret, APIKEY_SECRET_LEN))
        return false;
    memcpy(out->id, id, APIKEY_ID_LEN);
    out->id[APIKEY_ID_LEN] = '\0';
    memcpy(out->secret, secret, APIKEY_SECRET_LEN);
    out->secret[APIKEY_SECRET_LEN] = '\0';
    return true;
}

bool apikey_from_authorization(const char *authorization, struct apikey *out) {
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0) return false;
    const char *key = authorization + 7;
    while (*key == ' ') key++;
    size_t len = strlen(key);
    while (len > 0 && key[len - 1] == ' ') len--;
    return apikey_parse(key, len, out);
}

void apikey_hash(const char *secret, char out[APIKEY_HASH_LEN + 1]) {
    unsigned char h[APIKEY_HASH_LEN / 2];
    crypto_generichash(h, sizeof(h), (const unsigned char *)secret, strlen(secret), NULL, 0);
    sodium_bin2hex(out, APIKEY_HASH_LEN + 1, h, sizeof(h));
}

bool apikey_hash_matches(const char *stored, const char hash[APIKEY_HASH_LEN + 1]) {
    return stored && strlen(stored) == APIKEY_HASH_LEN &&
           sodium_memcmp(stored, hash, APIKEY_HASH_LEN) == 0;
}

bool apikey_id_valid(const char *s) {
    return s && strlen(s) == APIKEY_ID_LEN && lower_hex(s, APIKEY_ID_LEN);
}

bool apikey_name_valid(const char *name, size_t len) {
    if (len < 1 || len > APIKEY_NAME_MAX) return false;
    for (size_t i = 0; i < len; i++)
        if (name[i] < 0x20 || name[i] > 0x7e) return false;
    return true;
}
