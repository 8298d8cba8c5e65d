/*
 * token: session tokens. A token is 32 random bytes in base64url without
 * padding (43 characters); Redis only ever sees its SHA-256 in hex. The
 * parsers take a token from a Cookie header (__Host-authKey=... over TLS,
 * authKey=... over plain HTTP) or from an Authorization header
 * (Bearer ...). Pure except for the random source.
 */
#ifndef CHAT_TOKEN_H
#define CHAT_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#define TOKEN_BYTES 32
#define TOKEN_LEN 43      /* base64url of 32 bytes, no padding */
#define TOKEN_HASH_LEN 64 /* SHA-256 in hex */
#define TOKEN_COOKIE "authKey"
/* The name over TLS: the browser accepts it only with Secure, Path=/ and
 * no Domain, so a sibling subdomain cannot plant one. */
#define TOKEN_COOKIE_HOST "__Host-" TOKEN_COOKIE

/* Writes a new random token and its NUL into out[TOKEN_LEN + 1]. Needs
 * sodium_init() to have run. */
void token_generate(char out[TOKEN_LEN + 1]);

/* Writes the hex SHA-256 of token and its NUL into out[TOKEN_HASH_LEN + 1]. */
void token_hash(const char *token, char out[TOKEN_HASH_LEN + 1]);

/* True when s is exactly TOKEN_LEN base64url characters. */
bool token_well_formed(const char *s, size_t len);

/* True when s is exactly TOKEN_HASH_LEN lower-case hex digits, as
 * token_hash writes them. */
bool token_hash_well_formed(const char *s, size_t len);

/* Finds the session token in the request headers: the Authorization header
 * ("Bearer <token>") first, then the __Host-authKey cookie, then the
 * authKey cookie. Either header may be
 * NULL. Copies a well-formed token into out[TOKEN_LEN + 1] and returns true;
 * returns false when there is none or it is malformed. */
bool token_from_headers(const char *cookie, const char *authorization,
                        char out[TOKEN_LEN + 1]);
/* Whether the headers offer a session token at all, well-formed or not (a
 * Bearer authorization, or an authKey cookie with a value). */
bool token_offered(const char *cookie, const char *authorization);

#endif
