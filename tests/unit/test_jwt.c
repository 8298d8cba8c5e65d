/*
 * Unit tests for jwt_keys.c and jwt_verify.c: tokens signed here with
 * OpenSSL and libsodium (not with cjose, which verifies them) against keys
 * loaded from PEM, a JWKS and a shared secret; every refusal the exchange
 * answers with 401 invalid_token, key confusion and "none" included.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include "jwt_keys.h"
#include "jwt_verify.h"

#define NOW 1800000000LL
#define SECRET "0123456789abcdef0123456789abcdef-secret"

/* Keys made once for the whole group. */
static EVP_PKEY *rsa_key, *ec_key;
static char rsa_pem[4096], ec_pem[1024];

static void pem_of(EVP_PKEY *pk, char *out, size_t size) {
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(bio, pk), 1);
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    assert_true(len > 0 && (size_t)len < size);
    memcpy(out, data, (size_t)len);
    out[len] = '\0';
    BIO_free(bio);
}

static int group_setup(void **state) {
    (void)state;
    if (sodium_init() < 0) return -1;
    rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    ec_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!rsa_key || !ec_key) return -1;
    pem_of(rsa_key, rsa_pem, sizeof(rsa_pem));
    pem_of(ec_key, ec_pem, sizeof(ec_pem));
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    EVP_PKEY_free(rsa_key);
    EVP_PKEY_free(ec_key);
    return 0;
}

/* ---- minting ---- */

static void b64url(const void *in, size_t len, char *out, size_t size) {
    sodium_bin2base64(out, size, in, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* The signature of input by pk, raw as JWS wants it (r || s for ES256). */
static size_t sign_with(EVP_PKEY *pk, const char *input, unsigned char *sig, size_t size) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t len = size;
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pk), 1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &len, (const unsigned char *)input, strlen(input)), 1);
    EVP_MD_CTX_free(ctx);
    if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_EC) return len;
    const unsigned char *der = sig;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &der, (long)len);
    const BIGNUM *r, *s;
    ECDSA_SIG_get0(es, &r, &s);
    unsigned char raw[64];
    BN_bn2binpad(r, raw, 32);
    BN_bn2binpad(s, raw + 32, 32);
    ECDSA_SIG_free(es);
    memcpy(sig, raw, 64);
    return 64;
}

/* A token of header and claims (JSON texts) signed for alg: by pk
 * (RS256, ES256), with the secret of hs_key (HS256), or unsigned with
 * sig_text as its third part. */
static char *mint(const char *header, const char *claims, EVP_PKEY *pk, const char *hs_key,
                  const char *sig_text) {
    static char token[JWT_TOKEN_MAX * 2];
    char h[1024], c[2048], s[1024];
    b64url(header, strlen(header), h, sizeof(h));
    b64url(claims, strlen(claims), c, sizeof(c));
    snprintf(token, sizeof(token), "%s.%s", h, c);
    unsigned char sig[512];
    size_t sig_len = 0;
    if (pk) {
        sig_len = sign_with(pk, token, sig, sizeof(sig));
    } else if (hs_key) {
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, (const unsigned char *)hs_key, strlen(hs_key));
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)token, strlen(token));
        crypto_auth_hmacsha256_final(&st, sig);
        sig_len = crypto_auth_hmacsha256_BYTES;
    }
    if (sig_len) b64url(sig, sig_len, s, sizeof(s));
    else snprintf(s, sizeof(s), "%s", sig_text ? sig_text : "");
    size_t n = strlen(token);
    snprintf(token + n, sizeof(token) - n, ".%s", s);
    return token;
}

#define CLAIMS_OK "{\"sub\":\"user-42\",\"name\":\"Ann\",\"exp\":1800000600}"

/* ---- the key sets ---- */

static struct jwt_keys *keys_hs(void) {
    char err[256];
    struct jwt_keys *k = jwt_keys_new();
    assert_int_equal(jwt_keys_add_secret(k, (const unsigned char *)SECRET, strlen(SECRET), err), 0);
    return k;
}

static struct jwt_keys *keys_pem(const char *pem) {
    char err[256];
    struct jwt_keys *k = jwt_keys_new();
    assert_int_equal(jwt_keys_add_pem(k, pem, strlen(pem), err), 0);
    return k;
}

/* The RSA key as the JWK {"kty":"RSA","kid":kid,"n","e"}, with "alg" and
 * "use" when they are given. */
static char *rsa_jwk(const char *kid, const char *alg, const char *use) {
    static char out[2048];
    BIGNUM *n = NULL, *e = NULL;
    unsigned char nb[512], eb[8];
    char n64[700], e64[16];
    EVP_PKEY_get_bn_param(rsa_key, OSSL_PKEY_PARAM_RSA_N, &n);
    EVP_PKEY_get_bn_param(rsa_key, OSSL_PKEY_PARAM_RSA_E, &e);
    int nlen = BN_bn2bin(n, nb), elen = BN_bn2bin(e, eb);
    b64url(nb, (size_t)nlen, n64, sizeof(n64));
    b64url(eb, (size_t)elen, e64, sizeof(e64));
    BN_free(n);
    BN_free(e);
    snprintf(out, sizeof(out), "{\"kty\":\"RSA\",\"kid\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"%s%s%s%s%s%s}",
             kid, n64, e64, alg ? ",\"alg\":\"" : "", alg ? alg : "", alg ? "\"" : "",
             use ? ",\"use\":\"" : "", use ? use : "", use ? "\"" : "");
    return out;
}

static const struct jwt_policy no_policy = {NULL, NULL, 30};

static enum jwt_status check(const struct jwt_keys *k, const struct jwt_policy *p,
                             const char *token, struct jwt_identity *id) {
    return jwt_verify(k, p, token, strlen(token), NOW, id);
}

/* ---- valid tokens ---- */

static void test_hs256_valid(void **state) {
    (void)state;
    struct jwt_keys *k = keys_hs();
    struct jwt_identity id;
    const char *t = mint("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", CLAIMS_OK, NULL, SECRET, NULL);
    assert_int_equal(check(k, &no_policy, t, &id), JWT_OK);
    assert_string_equal(id.subject, "user-42");
    assert_string_equal(id.name, "Ann");
    assert_string_equal(id.issuer, "");
    assert_int_equal(id.exp, 1800000600);
    assert_false(id.rooms_limited);
    jwt_keys_free(k);
}

static void test_rs256_pem_valid(void **state) {
    (void)state;
    struct jwt_keys *k = keys_pem(rsa_pem);
    struct jwt_identity id;
    const char *t = mint("{\"alg\":\"RS256\"}", "{\"sub\":\"r\",\"exp\":1800000600}", rsa_key,
                         NULL, NULL);
    assert_int_equal(check(k, &no_policy, t, &id), JWT_OK);
    assert_string_equal(id.name, "r"); /* no name: the subject */
    jwt_keys_free(k);
}

static void test_es256_pem_valid(void **state) {
    (void)state;
    struct jwt_keys *k = keys_pem(ec_pem);
    struct jwt_identity id;
    const char *t = mint("{\"alg\":\"ES256\"}", CLAIMS_OK, ec_key, NULL, NULL);
    assert_int_equal(check(k, &no_policy, t, &id), JWT_OK);
    jwt_keys_free(k);
}

static void test_jwks_by_kid(void **state) {
    (void)state;
    char err[256], jwks[4096];
    struct jwt_keys *k = jwt_keys_new();
    snprintf(jwks, sizeof(jwks), "{\"keys\":[%s]}", rsa_jwk("r1", "RS256", "sig"));
    assert_int_equal(jwt_keys_add_jwks(k, jwks, strlen(jwks), err), 0);
    assert_int_equal(jwt_keys_count(k), 1);
    struct jwt_identity id;
    const char *t = mint("{\"alg\":\"RS256\",\"kid\":\"r1\"}", CLAIMS_OK, rsa_key, NULL, NULL);
    assert_int_equal(check(k, &no_policy, t, &id), JWT_OK);
    t = mint("{\"alg\":\"RS256\",\"kid\":\"r2\"}", CLAIMS_OK, rsa_key, NULL, NULL);
    assert_int_equal(check(k, &no_policy, t, &id), JWT_UNKNOWN_KEY);
    t = mint("{\"alg\":\"RS256\"}", CLAIMS_OK, rsa_key, NULL, NULL);
    assert_int_equal(check(k, &no_policy, t, &id), JWT_OK); /* no kid: every RS256 key */
    jwt_keys_free(k);
}

/* ---- the algorithm ---- */

static void test_alg_none_refused(void **state) {
    (void)state;
    struct jwt_keys *k = keys_hs();
    struct jwt_identity id;
    const char *t = mint("{\"alg\":\"none\"}", CLAIMS_OK, NULL, NULL, "");
    assert_int_equal(check(k, &no_policy, t, &id), JWT_MALFORMED); /* no signature part */
    t = mint("{\"alg\":\"none\"}", CLAIMS_OK, NULL, NULL, "AAAA");
    assert_int_equal(check(k, &no_policy, t, &id), JWT_ALG_REFUSED);
    t = mint("{\"alg\":\"None\"}", CLAIMS_OK, NULL, NULL, "AAAA");
    assert_int_equal(check(k, &no_policy, t, &id), JWT_ALG_REFUSED);
    t = mint("{\"alg\":\"HS512\"}", CLAIMS_OK, NULL, NULL, "AAAA");
    assert_int_equal(check(k, &no_policy, t, &id), JWT_ALG_REFUSED);
    jwt_keys_free(k);
}

/* The RSA public key's PEM used as an HS256 secret: with only the RSA key
 * no HS256 key exists; with a real secret as well, it is not that secret. */
static void test_key_confusion_refused(void **state) {
    (void)state;
    char err[256];
    struct jwt_keys *k = keys_pem(rsa_pem);
    struct jwt_identity id;
    const char *t = mint("{\"alg\":\"HS256\"}", CLAIMS_OK, NULL, rsa_pem, NULL);
    assert_int_equal(check(k, &no_policy, t, &id), JWT_ALG_REFUSED);
    assert_int_equal(jwt_keys_add_secret(k, (const unsigned char *)SECRET, strlen(SECRET), err), 0);
    t = mint("{\"alg\":\"HS256\"}", CLAIMS_OK, NULL, rsa_pem, NULL);
    assert_int_equal(check(k, &no_policy, t, &id), JWT_BAD_SIGNATURE);
    /* and an ES256 token signed by the EC key never verifies with RSA */
    t = mint("{\"alg\":\"ES256\"}", CLAIMS_OK, ec_key, NULL, NULL);
    assert_int_equal(check(k, &no_policy, t, &id), JWT_ALG_REFUSED);
    jwt_keys_free(k);
}

static void test_bad_signature(void **state) {
    (void)state;
    struct jwt_keys *k = keys_hs();
    struct jwt_identity id;
    char t[4096];
    snprintf(t, sizeof(t), "%s", mint("{\"alg\":\"HS256\"}", CLAIMS_OK, NULL, SECRET, NULL));
    char *payload = strchr(t, '.') + 1;
    payload[2] = payload[2] == 'A' ? 'B' : 'A'; /* one claim byte changed */
    assert_int_equal(check(k, &no_policy, t, &id), JWT_BAD_SIGNATURE);
    const char *other = mint("{\"alg\":\"HS256\"}", CLAIMS_OK, NULL, SECRET "x", NULL);
    assert_int_equal(check(k, &no_policy, other, &id), JWT_BAD_SIGNATURE);
    jwt_keys_free(k);
}

/* ---- the claims ---- */

static enum jwt_status hs_claims(const struct jwt_policy *p, const char *claims,
                                 struct jwt_identity *id) {
    struct jwt_keys *k = keys_hs();
    enum jwt_status st = check(k, p, mint("{\"alg\":\"HS256\"}", claims, NULL, SECRET, NULL), id);
    jwt_keys_free(k);
    return st;
}

static void test_times(void **state) {
    (void)state;
    struct jwt_identity id;
    assert_int_equal(hs_claims(&no_policy, "{\"sub\":\"a\"}", &id), JWT_NO_EXPIRY);
    assert_int_equal(hs_claims(&no_policy, "{\"sub\":\"a\",\"exp\":\"soon\"}", &id), JWT_NO_EXPIRY);
    assert_int_equal(hs_claims(&no_policy, "{\"sub\":\"a\",\"exp\":1799999960}", &id), JWT_EXPIRED);
    /* within the leeway of 30 s */
    assert_int_equal(hs_claims(&no_policy, "{\"sub\":\"a\",\"exp\":1799999990}", &id), JWT_OK);
    assert_int_equal(hs_claims(&no_policy, "{\"sub\":\"a\",\"exp\":1800000600,\"nbf\":1800000100}",
                               &id), JWT_NOT_YET_VALID);
    assert_int_equal(hs_claims(&no_policy, "{\"sub\":\"a\",\"exp\":1800000600,\"iat\":1800000100}",
                               &id), JWT_NOT_YET_VALID);
    assert_int_equal(hs_claims(&no_policy, "{\"sub\":\"a\",\"exp\":1800000600,\"nbf\":1800000010}",
                               &id), JWT_OK);
    assert_int_equal(hs_claims(&no_policy, "{\"sub\":\"a\",\"exp\":1800000600,\"nbf\":\"x\"}", &id),
                     JWT_BAD_CLAIMS);
    assert_int_equal(hs_claims(&no_policy, "{\"sub\":\"a\",\"exp\":1e300}", &id), JWT_NO_EXPIRY);
}

static void test_issuer_audience(void **state) {
    (void)state;
    struct jwt_identity id;
    struct jwt_policy p = {"https://app.example", "chat", 30};
    assert_int_equal(
        hs_claims(&p, "{\"sub\":\"a\",\"exp\":1800000600,\"iss\":\"https://app.example\","
                      "\"aud\":\"chat\"}", &id), JWT_OK);
    assert_string_equal(id.issuer, "https://app.example");
    assert_int_equal(
        hs_claims(&p, "{\"sub\":\"a\",\"exp\":1800000600,\"iss\":\"https://app.example\","
                      "\"aud\":[\"x\",\"chat\"]}", &id), JWT_OK);
    assert_int_equal(
        hs_claims(&p, "{\"sub\":\"a\",\"exp\":1800000600,\"iss\":\"https://evil.example\","
                      "\"aud\":\"chat\"}", &id), JWT_WRONG_ISSUER);
    assert_int_equal(hs_claims(&p, "{\"sub\":\"a\",\"exp\":1800000600,\"aud\":\"chat\"}", &id),
                     JWT_WRONG_ISSUER);
    assert_int_equal(
        hs_claims(&p, "{\"sub\":\"a\",\"exp\":1800000600,\"iss\":\"https://app.example\","
                      "\"aud\":\"mail\"}", &id), JWT_WRONG_AUDIENCE);
    assert_int_equal(
        hs_claims(&p, "{\"sub\":\"a\",\"exp\":1800000600,\"iss\":\"https://app.example\"}", &id),
        JWT_WRONG_AUDIENCE);
    /* no audience configured: a token meant for some audience is refused */
    assert_int_equal(hs_claims(&no_policy, "{\"sub\":\"a\",\"exp\":1800000600,\"aud\":\"x\"}", &id),
                     JWT_WRONG_AUDIENCE);
}

static void test_subject_name_id(void **state) {
    (void)state;
    struct jwt_identity id;
    char claims[1024], long_sub[300];
    assert_int_equal(hs_claims(&no_policy, "{\"exp\":1800000600}", &id), JWT_BAD_SUBJECT);
    assert_int_equal(hs_claims(&no_policy, "{\"sub\":\"\",\"exp\":1800000600}", &id),
                     JWT_BAD_SUBJECT);
    assert_int_equal(hs_claims(&no_policy, "{\"sub\":42,\"exp\":1800000600}", &id), JWT_BAD_SUBJECT);
    assert_int_equal(hs_claims(&no_policy, "{\"sub\":\"a\\nb\",\"exp\":1800000600}", &id),
                     JWT_BAD_SUBJECT);
    memset(long_sub, 's', 256);
    long_sub[256] = '\0';
    snprintf(claims, sizeof(claims), "{\"sub\":\"%s\",\"exp\":1800000600}", long_sub);
    assert_int_equal(hs_claims(&no_policy, claims, &id), JWT_BAD_SUBJECT);
    assert_int_equal(hs_claims(&no_policy, "{\"sub\":\"a\",\"name\":\"\",\"exp\":1800000600}", &id),
                     JWT_BAD_NAME);
    /* a NUL inside a string: jansson refuses the whole document */
    assert_int_equal(hs_claims(&no_policy, "{\"sub\":\"a\",\"name\":\"a\\u0000b\",\"exp\":1800000600}",
                               &id), JWT_BAD_CLAIMS);
    assert_int_equal(hs_claims(&no_policy, "{\"sub\":\"a\",\"name\":\"a\\u0007b\",\"exp\":1800000600}",
                               &id), JWT_BAD_NAME);
    assert_int_equal(hs_claims(&no_policy, "{\"sub\":\"a\",\"jti\":7,\"exp\":1800000600}", &id),
                     JWT_BAD_ID);
    assert_int_equal(hs_claims(&no_policy, "{\"sub\":\"a\",\"jti\":\"t-1\",\"exp\":1800000600}", &id),
                     JWT_OK);
    assert_string_equal(id.jti, "t-1");
    assert_int_equal(hs_claims(&no_policy, "{\"sub\":\"a\",\"sub\":\"b\",\"exp\":1800000600}", &id),
                     JWT_BAD_CLAIMS); /* duplicate keys */
}

static void test_rooms(void **state) {
    (void)state;
    struct jwt_identity id;
    assert_int_equal(
        hs_claims(&no_policy, "{\"sub\":\"a\",\"exp\":1800000600,\"rooms\":[\"lobby\",\"team-a\"]}",
                  &id), JWT_OK);
    assert_true(id.rooms_limited);
    assert_string_equal(id.rooms, "lobby,team-a");
    struct session_user u = {.rooms_limited = true};
    memcpy(u.rooms, id.rooms, sizeof(u.rooms));
    assert_true(jwt_rooms_allow(&u, "lobby"));
    assert_true(jwt_rooms_allow(&u, "team-a"));
    assert_false(jwt_rooms_allow(&u, "team"));
    assert_false(jwt_rooms_allow(&u, "team-ab"));
    u.rooms_limited = false;
    assert_true(jwt_rooms_allow(&u, "anything"));
    assert_int_equal(hs_claims(&no_policy, "{\"sub\":\"a\",\"exp\":1800000600,\"rooms\":[]}", &id),
                     JWT_OK);
    assert_true(id.rooms_limited);
    assert_string_equal(id.rooms, "");
    assert_int_equal(
        hs_claims(&no_policy, "{\"sub\":\"a\",\"exp\":1800000600,\"rooms\":[\"Bad Room\"]}", &id),
        JWT_BAD_ROOMS);
    assert_int_equal(hs_claims(&no_policy, "{\"sub\":\"a\",\"exp\":1800000600,\"rooms\":\"lobby\"}",
                               &id), JWT_BAD_ROOMS);
    char claims[2048] = "{\"sub\":\"a\",\"exp\":1800000600,\"rooms\":[";
    for (int i = 0; i < JWT_ROOMS_MAX + 1; i++)
        snprintf(claims + strlen(claims), sizeof(claims) - strlen(claims), "%s\"r%d\"",
                 i ? "," : "", i);
    strcat(claims, "]}");
    assert_int_equal(hs_claims(&no_policy, claims, &id), JWT_BAD_ROOMS);
}

/* ---- shapes ---- */

static void test_garbage(void **state) {
    (void)state;
    struct jwt_keys *k = keys_hs();
    struct jwt_identity id;
    const char *bad[] = {"", ".", "..", "a.b", "a.b.c.d", "a..c", "a.b.c d", "a.b.c=",
                         "!!!.???.***", "eyJhbGciOiJIUzI1NiJ9.e30"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(check(k, &no_policy, bad[i], &id), JWT_MALFORMED);
    /* a header that is not JSON, not an object, or lacks alg */
    assert_int_equal(check(k, &no_policy, mint("not json", CLAIMS_OK, NULL, SECRET, NULL), &id),
                     JWT_BAD_HEADER);
    assert_int_equal(check(k, &no_policy, mint("[1]", CLAIMS_OK, NULL, SECRET, NULL), &id),
                     JWT_BAD_HEADER);
    assert_int_equal(check(k, &no_policy, mint("{\"typ\":\"JWT\"}", CLAIMS_OK, NULL, SECRET, NULL),
                           &id), JWT_BAD_HEADER);
    assert_int_equal(check(k, &no_policy,
                           mint("{\"alg\":\"HS256\",\"crit\":[\"x\"]}", CLAIMS_OK, NULL, SECRET, NULL),
                           &id), JWT_BAD_HEADER);
    /* claims that are not an object */
    assert_int_equal(check(k, &no_policy, mint("{\"alg\":\"HS256\"}", "[]", NULL, SECRET, NULL), &id),
                     JWT_BAD_CLAIMS);
    char *huge = malloc(JWT_TOKEN_MAX + 2);
    memset(huge, 'A', JWT_TOKEN_MAX + 1);
    huge[10] = huge[20] = '.';
    huge[JWT_TOKEN_MAX + 1] = '\0';
    assert_int_equal(check(k, &no_policy, huge, &id), JWT_TOO_LARGE);
    free(huge);
    jwt_keys_free(k);
}

/* ---- loading keys ---- */

static void test_key_loading_refusals(void **state) {
    (void)state;
    char err[256], jwks[4096];
    struct jwt_keys *k = jwt_keys_new();
    assert_int_equal(jwt_keys_add_secret(k, (const unsigned char *)"short", 5, err), -1);
    assert_non_null(strstr(err, "32 bytes"));
    assert_int_equal(jwt_keys_add_pem(k, "-----BEGIN PUBLIC KEY-----\nxx\n", 31, err), -1);
    EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    char small_pem[2048];
    pem_of(small, small_pem, sizeof(small_pem));
    EVP_PKEY_free(small);
    assert_int_equal(jwt_keys_add_pem(k, small_pem, strlen(small_pem), err), -1);
    assert_non_null(strstr(err, "2048"));
    /* an RSA JWK that claims HS256 is refused: the type decides */
    snprintf(jwks, sizeof(jwks), "{\"keys\":[%s]}", rsa_jwk("r1", "HS256", NULL));
    assert_int_equal(jwt_keys_add_jwks(k, jwks, strlen(jwks), err), -1);
    /* an encryption key is skipped */
    snprintf(jwks, sizeof(jwks), "{\"keys\":[%s]}", rsa_jwk("r1", NULL, "enc"));
    assert_int_equal(jwt_keys_add_jwks(k, jwks, strlen(jwks), err), 0);
    assert_int_equal(jwt_keys_count(k), 0);
    assert_int_equal(jwt_keys_add_jwks(k, "{\"keys\":3}", 10, err), -1);
    assert_int_equal(jwt_keys_add_jwks(k, "nonsense", 8, err), -1);
    assert_int_equal(jwt_keys_count(k), 0);
    jwt_keys_free(k);
}

static void test_account_handle(void **state) {
    (void)state;
    char a[JWT_HANDLE_LEN + 1], b[JWT_HANDLE_LEN + 1], c[JWT_HANDLE_LEN + 1];
    jwt_account_handle("https://app.example", "ann@example.com", a);
    jwt_account_handle("https://app.example", "ann@example.com", b);
    jwt_account_handle("https://other.example", "ann@example.com", c);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_int_equal(strlen(a), JWT_HANDLE_LEN);
    assert_true(jwt_is_account_handle(a));
    assert_null(strchr(a, '@')); /* never an e-mail address */
    assert_false(jwt_is_account_handle("ann@example.com"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hs256_valid),
        cmocka_unit_test(test_rs256_pem_valid),
        cmocka_unit_test(test_es256_pem_valid),
        cmocka_unit_test(test_jwks_by_kid),
        cmocka_unit_test(test_alg_none_refused),
        cmocka_unit_test(test_key_confusion_refused),
        cmocka_unit_test(test_bad_signature),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_issuer_audience),
        cmocka_unit_test(test_subject_name_id),
        cmocka_unit_test(test_rooms),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_key_loading_refusals),
        cmocka_unit_test(test_account_handle),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
