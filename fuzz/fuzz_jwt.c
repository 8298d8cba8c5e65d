/*
 * fuzz_jwt: any bytes through jwt_verify() in src/jwt_verify.c. The first
 * byte chooses what the rest is: a whole token (0), a header JSON (1) or a
 * claims JSON (2), the last two signed here with the harness's HS256
 * secret so that the checks after the signature see the fuzzer's bytes.
 * A token that passes must carry an identity that keeps every rule.
 */
#include <sodium.h>

#include "fuzz.h"
#include "jwt_keys.h"
#include "jwt_verify.h"
#include "validate.h"

#define SECRET "fuzz-secret-fuzz-secret-fuzz-secret!"
#define NOW 1800000000LL
#define HEADER_OK "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define CLAIMS_OK "{\"sub\":\"s\",\"exp\":1800000600,\"rooms\":[\"lobby\"]}"

static struct jwt_keys *keys;

static void b64url(const void *in, size_t len, char *out, size_t size) {
    sodium_bin2base64(out, size, in, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* header.claims.HMAC-SHA256 with the harness's secret, malloc'd. */
static char *sign(const uint8_t *header, size_t hlen, const uint8_t *claims, size_t clen) {
    size_t size = sodium_base64_ENCODED_LEN(hlen + clen + 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING) + 8;
    char *t = malloc(size);
    b64url(header, hlen, t, size);
    size_t n = strlen(t);
    t[n++] = '.';
    b64url(claims, clen, t + n, size - n);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)SECRET, strlen(SECRET));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)t, strlen(t));
    crypto_auth_hmacsha256_final(&st, mac);
    n = strlen(t);
    t[n++] = '.';
    b64url(mac, sizeof(mac), t + n, size - n);
    return t;
}

static void check_identity(const struct jwt_identity *id) {
    FUZZ_ASSERT(id->subject[0] != '\0');
    for (const char *p = id->subject; *p; p++) FUZZ_ASSERT((unsigned char)*p >= 0x20);
    FUZZ_ASSERT(validate_name(id->name, strlen(id->name)) == API_E_OK);
    FUZZ_ASSERT(id->exp + 30 > NOW);
    if (!id->rooms_limited) FUZZ_ASSERT(id->rooms[0] == '\0');
    char rooms[CHAT_SESSION_ROOMS_MAX];
    memcpy(rooms, id->rooms, sizeof(rooms));
    for (char *room = strtok(rooms, ","); room; room = strtok(NULL, ","))
        FUZZ_ASSERT(validate_room_name(room));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[256];
    if (!keys) {
        FUZZ_ASSERT(sodium_init() >= 0);
        keys = jwt_keys_new();
        FUZZ_ASSERT(jwt_keys_add_secret(keys, (const unsigned char *)SECRET, strlen(SECRET), err) == 0);
    }
    if (size < 1) return 0;
    char *token;
    if (data[0] % 3 == 1)
        token = sign(data + 1, size - 1, (const uint8_t *)CLAIMS_OK, strlen(CLAIMS_OK));
    else if (data[0] % 3 == 2)
        token = sign((const uint8_t *)HEADER_OK, strlen(HEADER_OK), data + 1, size - 1);
    else
        token = fuzz_cstring(data + 1, size - 1);
    size_t len = data[0] % 3 == 0 ? size - 1 : strlen(token);
    struct jwt_policy policy = {data[0] & 4 ? "iss" : NULL, data[0] & 8 ? "aud" : NULL, 30};
    struct jwt_identity id;
    enum jwt_status st = jwt_verify(keys, &policy, token, len, NOW, &id);
    FUZZ_ASSERT(jwt_status_reason(st) != NULL);
    if (st == JWT_OK) check_identity(&id);
    free(token);
    return 0;
}
