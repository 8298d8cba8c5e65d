/*
 * apikey: the keys of the server API (pure, no I/O but the random source).
 * A key is "ck_<id>_<secret>": an id of 16 hex digits (8 random bytes),
 * which names the stored record, and a secret of 64 hex digits (32 random
 * bytes), which only its holder has. Redis keeps the id, a name and the
 * BLAKE2b-256 hash of the secret (crypto_generichash), never the secret:
 * a key is checked with one read by id and a comparison of hashes in
 * constant time. Shared by chatd and chatctl, which makes the keys.
 */
#ifndef CHAT_APIKEY_H
#define CHAT_APIKEY_H

#include <stdbool.h>
#include <stddef.h>

#define APIKEY_ID_LEN 16      /* hex digits of the id */
#define APIKEY_SECRET_LEN 64  /* hex digits of the secret */
#define APIKEY_HASH_LEN 64    /* hex digits of the secret's hash */
#define APIKEY_PREFIX "ck_"
/* "ck_" id "_" secret */
#define APIKEY_LEN (sizeof(APIKEY_PREFIX) - 1 + APIKEY_ID_LEN + 1 + APIKEY_SECRET_LEN)
#define APIKEY_NAME_MAX 64    /* bytes of a key's name */

/* A key taken apart: NUL-terminated id and secret. */
struct apikey {
    char id[APIKEY_ID_LEN + 1];
    char secret[APIKEY_SECRET_LEN + 1];
};

/* Makes a new random key into key and its text into text[APIKEY_LEN + 1].
 * Needs sodium_init() to have run. */
void apikey_generate(struct apikey *key, char text[APIKEY_LEN + 1]);

/* Takes text (len bytes) apart; false unless it is exactly a key's form
 * (lower-case hex). */
bool apikey_parse(const char *text, size_t len, struct apikey *out);

/* Finds the key of an Authorization header, "Bearer <key>" (the scheme
 * without case); false when the header is NULL, another scheme or not a
 * key. Cookies are never read: a browser session is no key. */
bool apikey_from_authorization(const char *authorization, struct apikey *out);

/* The hex hash of a key's secret, as stored, into out[APIKEY_HASH_LEN + 1]. */
void apikey_hash(const char *secret, char out[APIKEY_HASH_LEN + 1]);

/* Whether a secret's hash equals the stored one (hex), in constant time;
 * false for a stored value of another length. */
bool apikey_hash_matches(const char *stored, const char hash[APIKEY_HASH_LEN + 1]);

/* Whether s is a valid key id (APIKEY_ID_LEN lower-case hex digits). */
bool apikey_id_valid(const char *s);

/* Whether name (len bytes) may name a key: 1 to APIKEY_NAME_MAX bytes of
 * printable ASCII. */
bool apikey_name_valid(const char *name, size_t len);

#endif
