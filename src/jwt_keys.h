/*
 * jwt_keys: the keys that application tokens (JWT) are verified with, each
 * pinned to the one algorithm its type allows: a shared secret to HS256, an
 * RSA public key (2048 bits or more) to RS256, an EC P-256 public key to
 * ES256. A token is never checked with a key of another type, so an RSA
 * public key can never serve as an HS256 secret (key confusion).
 *
 * Keys come from a shared-secret file, a PEM public key file or a JWKS file
 * (RFC 7517), read once at start-up; the parsers take memory buffers too,
 * for tests and the fuzzer. The JWK objects are cjose's; no I/O after load.
 */
#ifndef CHAT_JWT_KEYS_H
#define CHAT_JWT_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#define JWT_KEYS_MAX 64        /* keys in one set */
#define JWT_KID_MAX 128        /* bytes of a key id */
#define JWT_SECRET_MIN 32      /* bytes an HS256 secret needs (RFC 7518, 3.2) */
#define JWT_RSA_BITS_MIN 2048  /* smaller RSA keys are refused */
#define JWT_KEY_FILE_MAX 65536 /* bytes of a key or JWKS file */

struct jwt_keys;

/* An empty set; NULL when out of memory. */
struct jwt_keys *jwt_keys_new(void);
/* Frees the set and its keys. NULL is fine. */
void jwt_keys_free(struct jwt_keys *k);
/* Keys in the set. */
size_t jwt_keys_count(const struct jwt_keys *k);

/* Each adder returns 0, or -1 with the reason in err (never key material). */

/* Adds a shared secret (HS256, at least JWT_SECRET_MIN bytes), without a key id. */
int jwt_keys_add_secret(struct jwt_keys *k, const unsigned char *secret, size_t len,
                        char err[256]);
/* Adds a PEM public key ("-----BEGIN PUBLIC KEY-----"): RSA or EC P-256. */
int jwt_keys_add_pem(struct jwt_keys *k, const char *pem, size_t len, char err[256]);
/* Adds every key of a JWKS ({"keys": [...]}) or of a single JWK: kty RSA,
 * EC (crv P-256) or oct; "use" other than "sig" and an "alg" that does not
 * fit the key's type are refused. */
int jwt_keys_add_jwks(struct jwt_keys *k, const char *json, size_t len, char err[256]);
/* Reads path: a PEM public key when it starts with "-----BEGIN", else a
 * shared secret (the whole file, less one trailing newline). */
int jwt_keys_load_key_file(struct jwt_keys *k, const char *path, char err[256]);
/* Reads path as a JWKS. */
int jwt_keys_load_jwks_file(struct jwt_keys *k, const char *path, char err[256]);

/* What a token's header asks for. */
enum jwt_key_lookup {
    JWT_KEY_FOUND,    /* *jwk is a key for alg (and kid) */
    JWT_KEY_NO_ALG,   /* no key of the set verifies alg */
    JWT_KEY_NO_KID,   /* no key of the set has kid for alg */
};
/* The at-th key (from 0) that may verify a token of alg ("HS256", "RS256"
 * or "ES256") with kid (NULL: the token names none, and every key for alg
 * fits). *jwk is a cjose_jwk_t, valid while the set lives. */
enum jwt_key_lookup jwt_keys_find(const struct jwt_keys *k, const char *alg, const char *kid,
                                  size_t at, const void **jwk);

#endif
