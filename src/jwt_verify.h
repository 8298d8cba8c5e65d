/*
 * jwt_verify: checks an application's token (a JWS in compact form, RFC
 * 7519) and reads the identity in it. Pure: no I/O, the time is passed in.
 *
 * Order of the checks: size and shape (three base64url parts), the header
 * (alg must be HS256, RS256 or ES256 and have a key of its type in the set:
 * "none" and every other algorithm are refused before any signature work;
 * crit is refused), the signature (cjose, with each key for alg and kid),
 * then the claims: exp (required), nbf and iat against the time with a
 * leeway, iss and aud against the policy, sub (required), name, rooms.
 */
#ifndef CHAT_JWT_VERIFY_H
#define CHAT_JWT_VERIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "message.h"

struct jwt_keys;

#define JWT_TOKEN_MAX 8192   /* bytes of a token; longer ones are refused unread */
#define JWT_SUBJECT_MAX 255  /* bytes of sub */
#define JWT_ISSUER_MAX 255   /* bytes of iss */
#define JWT_ID_MAX 128       /* bytes of jti */
#define JWT_ROOMS_MAX 16     /* rooms a token may name */
/* A token user's account handle: this prefix and 64 hex digits (no "@",
 * so that no e-mail address is ever the same). */
#define JWT_HANDLE_PREFIX "jwt:"
#define JWT_HANDLE_LEN (sizeof(JWT_HANDLE_PREFIX) - 1 + 64)

/* What the server expects of every token. */
struct jwt_policy {
    const char *issuer;   /* iss must be this; NULL or "": any (or none) */
    const char *audience; /* aud must be or contain this; NULL or "": a token with aud is refused */
    long long leeway_s;   /* clock skew allowed on exp, nbf and iat */
};

/* The identity a valid token carries. */
struct jwt_identity {
    char issuer[JWT_ISSUER_MAX + 1];    /* iss, "" when absent */
    char subject[JWT_SUBJECT_MAX + 1];  /* sub: the application's user id */
    char name[CHAT_NAME_MAX_BYTES + 1]; /* name, or sub when it has none */
    char jti[JWT_ID_MAX + 1];           /* jti, "" when absent */
    long long exp;                      /* seconds since the epoch */
    bool rooms_limited;                 /* the token has a rooms claim */
    char rooms[CHAT_SESSION_ROOMS_MAX]; /* its rooms, "a,b", when limited */
};

/* X(enum name, reason for people): why a token is refused. The reasons
 * name the rule broken, never a key. */
#define JWT_STATUS_TABLE(X)                                                    \
    X(JWT_OK, "valid")                                                         \
    X(JWT_TOO_LARGE, "the token is too large")                                 \
    X(JWT_MALFORMED, "the token is not a signed JWT in compact form")          \
    X(JWT_BAD_HEADER, "the token's header is not valid")                       \
    X(JWT_ALG_REFUSED, "the token's algorithm is not accepted")                \
    X(JWT_UNKNOWN_KEY, "no key is configured for the token's kid")             \
    X(JWT_BAD_SIGNATURE, "the signature does not verify")                      \
    X(JWT_BAD_CLAIMS, "the token's claims are not a valid JSON object")        \
    X(JWT_NO_EXPIRY, "the token has no valid exp claim")                       \
    X(JWT_EXPIRED, "the token has expired")                                    \
    X(JWT_NOT_YET_VALID, "the token is not valid yet (nbf or iat)")            \
    X(JWT_WRONG_ISSUER, "the token's issuer is not accepted")                  \
    X(JWT_WRONG_AUDIENCE, "the token's audience is not accepted")              \
    X(JWT_BAD_SUBJECT, "the token's sub claim is missing or invalid")          \
    X(JWT_BAD_NAME, "the token's name claim is not a valid display name")      \
    X(JWT_BAD_ROOMS, "the token's rooms claim is not a list of room names")    \
    X(JWT_BAD_ID, "the token's jti claim is invalid")

enum jwt_status {
#define JWT_STATUS_ENUM(name, reason) name,
    JWT_STATUS_TABLE(JWT_STATUS_ENUM)
#undef JWT_STATUS_ENUM
};

/* The reason of a status, for the error reply. */
const char *jwt_status_reason(enum jwt_status st);

/* Verifies token (len bytes, need not be NUL-terminated) with keys at
 * now_s (seconds since the epoch) under policy; fills out on JWT_OK. */
enum jwt_status jwt_verify(const struct jwt_keys *keys, const struct jwt_policy *policy,
                           const char *token, size_t len, long long now_s,
                           struct jwt_identity *out);

/* Writes the account handle of (issuer, subject) into out[JWT_HANDLE_LEN + 1]:
 * JWT_HANDLE_PREFIX and the hex SHA-256 of "<issuer>\n<subject>". Needs
 * sodium_init() to have run. */
void jwt_account_handle(const char *issuer, const char *subject, char out[JWT_HANDLE_LEN + 1]);
/* True when an account handle (a session's or a user record's "email") is
 * a token user's. */
bool jwt_is_account_handle(const char *email);

/* True when a session may write to room: it is not limited, or room is in
 * its list. */
bool jwt_rooms_allow(const struct session_user *u, const char *room);

#endif
