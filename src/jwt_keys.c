/* jwt_keys: loading and looking up the verification keys; see jwt_keys.h. */
#include "jwt_keys.h"

#include <cjose/jwk.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One key and the algorithm it is pinned to. */
struct jwt_key {
    cjose_jwk_t *jwk;       /* cjose's key (public part, or the secret) */
    const char *alg;        /* "HS256", "RS256" or "ES256" */
    char kid[JWT_KID_MAX];  /* "" when it has none */
};

struct jwt_keys {
    struct jwt_key keys[JWT_KEYS_MAX];
    size_t n; /* keys in use */
};

struct jwt_keys *jwt_keys_new(void) { return calloc(1, sizeof(struct jwt_keys)); }

void jwt_keys_free(struct jwt_keys *k) {
    if (!k) return;
    for (size_t i = 0; i < k->n; i++) cjose_jwk_release(k->keys[i].jwk);
    free(k);
}

size_t jwt_keys_count(const struct jwt_keys *k) { return k ? k->n : 0; }

/* Takes ownership of jwk (released on failure). */
static int add_key(struct jwt_keys *k, cjose_jwk_t *jwk, const char *alg, const char *kid,
                   char err[256]) {
    if (k->n == JWT_KEYS_MAX) {
        snprintf(err, 256, "more than %d keys", JWT_KEYS_MAX);
        cjose_jwk_release(jwk);
        return -1;
    }
    if (kid && strlen(kid) >= JWT_KID_MAX) {
        snprintf(err, 256, "a key id is longer than %d bytes", JWT_KID_MAX - 1);
        cjose_jwk_release(jwk);
        return -1;
    }
    struct jwt_key *key = &k->keys[k->n++];
    key->jwk = jwk;
    key->alg = alg;
    snprintf(key->kid, sizeof(key->kid), "%s", kid ? kid : "");
    return 0;
}

int jwt_keys_add_secret(struct jwt_keys *k, const unsigned char *secret, size_t len,
                        char err[256]) {
    if (len < JWT_SECRET_MIN) {
        snprintf(err, 256, "an HS256 secret needs at least %d bytes", JWT_SECRET_MIN);
        return -1;
    }
    cjose_err cerr;
    cjose_jwk_t *jwk = cjose_jwk_create_oct_spec(secret, len, &cerr);
    if (!jwk) {
        snprintf(err, 256, "the secret was refused: %s", cerr.message);
        return -1;
    }
    return add_key(k, jwk, "HS256", NULL, err);
}

/* ---- PEM public keys (OpenSSL reads them, cjose gets their numbers) ---- */

static cjose_jwk_t *rsa_from_pkey(EVP_PKEY *pk, char err[256]) {
    BIGNUM *n = NULL, *e = NULL;
    cjose_jwk_t *jwk = NULL;
    if (EVP_PKEY_get_bits(pk) < JWT_RSA_BITS_MIN) {
        snprintf(err, 256, "an RSA key needs at least %d bits", JWT_RSA_BITS_MIN);
        return NULL;
    }
    if (EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
        EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e) == 1) {
        size_t nlen = (size_t)BN_num_bytes(n), elen = (size_t)BN_num_bytes(e);
        uint8_t *nb = malloc(nlen), *eb = malloc(elen);
        if (nb && eb) {
            BN_bn2bin(n, nb);
            BN_bn2bin(e, eb);
            cjose_jwk_rsa_keyspec spec = {.e = eb, .elen = elen, .n = nb, .nlen = nlen};
            cjose_err cerr;
            jwk = cjose_jwk_create_RSA_spec(&spec, &cerr);
        }
        free(nb);
        free(eb);
    }
    BN_free(n);
    BN_free(e);
    if (!jwk) snprintf(err, 256, "the RSA key could not be read");
    return jwk;
}

static cjose_jwk_t *ec_from_pkey(EVP_PKEY *pk, char err[256]) {
    char group[64] = "";
    BIGNUM *x = NULL, *y = NULL;
    cjose_jwk_t *jwk = NULL;
    if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       NULL) != 1 ||
        strcmp(group, "prime256v1") != 0) {
        snprintf(err, 256, "an EC key must be on P-256 (ES256)");
        return NULL;
    }
    uint8_t xb[32], yb[32];
    if (EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1 &&
        EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1 &&
        BN_bn2binpad(x, xb, 32) == 32 && BN_bn2binpad(y, yb, 32) == 32) {
        cjose_jwk_ec_keyspec spec = {
            .crv = CJOSE_JWK_EC_P_256, .x = xb, .xlen = 32, .y = yb, .ylen = 32};
        cjose_err cerr;
        jwk = cjose_jwk_create_EC_spec(&spec, &cerr);
    }
    BN_free(x);
    BN_free(y);
    if (!jwk) snprintf(err, 256, "the EC key could not be read");
    return jwk;
}

int jwt_keys_add_pem(struct jwt_keys *k, const char *pem, size_t len, char err[256]) {
    if (len > JWT_KEY_FILE_MAX) {
        snprintf(err, 256, "the PEM key is larger than %d bytes", JWT_KEY_FILE_MAX);
        return -1;
    }
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *pk = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!pk) {
        snprintf(err, 256, "not a PEM public key (-----BEGIN PUBLIC KEY-----)");
        return -1;
    }
    cjose_jwk_t *jwk = NULL;
    const char *alg = NULL;
    if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_RSA) {
        jwk = rsa_from_pkey(pk, err);
        alg = "RS256";
    } else if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC) {
        jwk = ec_from_pkey(pk, err);
        alg = "ES256";
    } else {
        snprintf(err, 256, "a PEM key must be RSA or EC P-256");
    }
    EVP_PKEY_free(pk);
    return jwk ? add_key(k, jwk, alg, NULL, err) : -1;
}

/* ---- JWKS ---- */

/* The algorithm a JWK's type pins it to, or NULL (with err) when the set
 * must not take it. */
static const char *jwk_alg(const cjose_jwk_t *jwk, char err[256]) {
    cjose_err cerr;
    size_t bits = (size_t)cjose_jwk_get_keysize(jwk, &cerr);
    switch (cjose_jwk_get_kty(jwk, &cerr)) {
    case CJOSE_JWK_KTY_OCT:
        if (bits >= JWT_SECRET_MIN * 8) return "HS256";
        snprintf(err, 256, "an oct key needs at least %d bytes", JWT_SECRET_MIN);
        return NULL;
    case CJOSE_JWK_KTY_RSA:
        if (bits >= JWT_RSA_BITS_MIN) return "RS256";
        snprintf(err, 256, "an RSA key needs at least %d bits", JWT_RSA_BITS_MIN);
        return NULL;
    case CJOSE_JWK_KTY_EC:
        if (bits == 256) return "ES256";
        snprintf(err, 256, "an EC key must be on P-256 (ES256)");
        return NULL;
    default:
        snprintf(err, 256, "a key of an unknown type");
        return NULL;
    }
}

/* Adds one JWK object of a set. */
static int add_jwk(struct jwt_keys *k, json_t *obj, char err[256]) {
    const char *use = json_string_value(json_object_get(obj, "use"));
    const char *stated = json_string_value(json_object_get(obj, "alg"));
    const char *kid = json_string_value(json_object_get(obj, "kid"));
    if (use && strcmp(use, "sig") != 0) return 0; /* an encryption key: not ours */
    char *text = json_dumps(obj, JSON_COMPACT);
    cjose_err cerr;
    cjose_jwk_t *jwk = text ? cjose_jwk_import(text, strlen(text), &cerr) : NULL;
    free(text);
    if (!jwk) {
        snprintf(err, 256, "a JWK could not be read (kid \"%.64s\")", kid ? kid : "");
        return -1;
    }
    const char *alg = jwk_alg(jwk, err);
    if (alg && stated && strcmp(stated, alg) != 0) {
        snprintf(err, 256, "the JWK with kid \"%.64s\" says alg %.16s, its type allows %s",
                 kid ? kid : "", stated, alg);
        alg = NULL;
    }
    if (!alg) {
        cjose_jwk_release(jwk);
        return -1;
    }
    return add_key(k, jwk, alg, kid, err);
}

int jwt_keys_add_jwks(struct jwt_keys *k, const char *json, size_t len, char err[256]) {
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    if (!json_is_object(root)) {
        snprintf(err, 256, "not a JSON object (line %d)", jerr.line);
        json_decref(root);
        return -1;
    }
    json_t *keys = json_object_get(root, "keys");
    int rc = 0;
    if (!keys) {
        rc = add_jwk(k, root, err);
    } else if (!json_is_array(keys)) {
        snprintf(err, 256, "\"keys\" is not an array");
        rc = -1;
    } else {
        for (size_t i = 0; rc == 0 && i < json_array_size(keys); i++)
            rc = json_is_object(json_array_get(keys, i))
                     ? add_jwk(k, json_array_get(keys, i), err)
                     : (snprintf(err, 256, "a key of \"keys\" is not an object"), -1);
    }
    json_decref(root);
    return rc;
}

/* ---- files ---- */

/* Reads all of path into *out (NUL-terminated, *len bytes); -1 with err. */
static int read_file(const char *path, char **out, size_t *len, char err[256]) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, 256, "%.200s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = malloc(JWT_KEY_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, JWT_KEY_FILE_MAX + 1, f) : 0;
    bool failed = !buf || ferror(f);
    fclose(f);
    if (failed || n > JWT_KEY_FILE_MAX) {
        snprintf(err, 256, "%.200s: %s", path, failed ? "cannot be read" : "too large");
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

int jwt_keys_load_key_file(struct jwt_keys *k, const char *path, char err[256]) {
    char *buf;
    size_t len;
    if (read_file(path, &buf, &len, err) < 0) return -1;
    int rc;
    if (len >= 10 && memcmp(buf, "-----BEGIN", 10) == 0) {
        rc = jwt_keys_add_pem(k, buf, len, err);
    } else {
        if (len && buf[len - 1] == '\n') len--;
        if (len && buf[len - 1] == '\r') len--;
        rc = jwt_keys_add_secret(k, (const unsigned char *)buf, len, err);
    }
    OPENSSL_cleanse(buf, len);
    free(buf);
    return rc;
}

int jwt_keys_load_jwks_file(struct jwt_keys *k, const char *path, char err[256]) {
    char *buf;
    size_t len;
    if (read_file(path, &buf, &len, err) < 0) return -1;
    int rc = jwt_keys_add_jwks(k, buf, len, err);
    OPENSSL_cleanse(buf, len);
    free(buf);
    return rc;
}

/* ---- lookup ---- */

enum jwt_key_lookup jwt_keys_find(const struct jwt_keys *k, const char *alg, const char *kid,
                                  size_t at, const void **jwk) {
    bool alg_known = false;
    size_t seen = 0;
    for (size_t i = 0; k && i < k->n; i++) {
        const struct jwt_key *key = &k->keys[i];
        if (strcmp(key->alg, alg) != 0) continue;
        alg_known = true;
        if (kid && strcmp(key->kid, kid) != 0) continue;
        if (seen++ == at) {
            *jwk = key->jwk;
            return JWT_KEY_FOUND;
        }
    }
    return alg_known ? JWT_KEY_NO_KID : JWT_KEY_NO_ALG;
}
