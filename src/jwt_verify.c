/* jwt_verify: the checks of an application's token; see jwt_verify.h. */
#include "jwt_verify.h"

#include <cjose/jws.h>
#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "jwt_keys.h"
#include "validate.h"

#define JWT_HEADER_MAX 1024 /* bytes of a decoded header */
#define JWT_TIME_MAX 1e11   /* seconds: year 5138; larger times are nonsense */

const char *jwt_status_reason(enum jwt_status st) {
    switch (st) {
#define JWT_STATUS_CASE(name, reason) \
    case name:                        \
        return reason;
        JWT_STATUS_TABLE(JWT_STATUS_CASE)
#undef JWT_STATUS_CASE
    }
    return "the token is not valid";
}

static bool is_base64url(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

/* Three non-empty base64url parts; *header_len is the first one's length. */
static bool compact_shape(const char *t, size_t len, size_t *header_len) {
    size_t dots = 0, part = 0;
    for (size_t i = 0; i < len; i++) {
        if (t[i] == '.') {
            if (part == 0 && dots < 2) return false;
            if (dots++ == 0) *header_len = i;
            part = 0;
        } else if (is_base64url((unsigned char)t[i])) {
            part++;
        } else {
            return false;
        }
    }
    return dots == 2 && part > 0;
}

/* ---- the header ---- */

/* The header's alg and kid, copied out of the JSON. */
struct jwt_header {
    char alg[8];
    char kid[128];
    bool has_kid;
};

static enum jwt_status header_fields(json_t *h, struct jwt_header *out) {
    const char *alg = json_string_value(json_object_get(h, "alg"));
    json_t *kid = json_object_get(h, "kid");
    json_t *typ = json_object_get(h, "typ");
    if (!alg || json_object_get(h, "crit")) return JWT_BAD_HEADER;
    if (typ && (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT") != 0))
        return JWT_BAD_HEADER;
    if (kid && (!json_is_string(kid) || json_string_length(kid) >= sizeof(out->kid)))
        return JWT_BAD_HEADER;
    if (strcmp(alg, "HS256") != 0 && strcmp(alg, "RS256") != 0 && strcmp(alg, "ES256") != 0)
        return JWT_ALG_REFUSED;
    snprintf(out->alg, sizeof(out->alg), "%s", alg);
    out->has_kid = kid != NULL;
    snprintf(out->kid, sizeof(out->kid), "%s", kid ? json_string_value(kid) : "");
    return JWT_OK;
}

/* Decodes and checks the header before cjose sees the token. */
static enum jwt_status header_read(const char *b64, size_t len, struct jwt_header *out) {
    unsigned char raw[JWT_HEADER_MAX];
    size_t raw_len;
    if (len > sodium_base64_ENCODED_LEN(sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING) ||
        sodium_base642bin(raw, sizeof(raw), b64, len, NULL, &raw_len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return JWT_BAD_HEADER;
    json_t *h = json_loadb((const char *)raw, raw_len, JSON_REJECT_DUPLICATES, NULL);
    enum jwt_status st = json_is_object(h) ? header_fields(h, out) : JWT_BAD_HEADER;
    json_decref(h);
    return st;
}

/* ---- the signature ---- */

static enum jwt_status signature_check(const struct jwt_keys *keys, const struct jwt_header *h,
                                       cjose_jws_t *jws) {
    const char *kid = h->has_kid ? h->kid : NULL;
    const void *jwk;
    enum jwt_key_lookup found = jwt_keys_find(keys, h->alg, kid, 0, &jwk);
    if (found == JWT_KEY_NO_ALG) return JWT_ALG_REFUSED;
    if (found == JWT_KEY_NO_KID) return JWT_UNKNOWN_KEY;
    for (size_t at = 1; found == JWT_KEY_FOUND; at++) {
        cjose_err cerr;
        if (cjose_jws_verify(jws, jwk, &cerr)) return JWT_OK;
        found = jwt_keys_find(keys, h->alg, kid, at, &jwk);
    }
    return JWT_BAD_SIGNATURE;
}

/* ---- the claims ---- */

/* A time claim: absent (false, *t untouched), valid (true) or invalid (*bad). */
static bool time_claim(json_t *claims, const char *name, long long *t, bool *bad) {
    json_t *v = json_object_get(claims, name);
    if (!v) return false;
    double d = json_number_value(v);
    if (!json_is_number(v) || !isfinite(d) || d < 0 || d > JWT_TIME_MAX) {
        *bad = true;
        return false;
    }
    *t = (long long)d;
    return true;
}

static enum jwt_status times_check(json_t *claims, long long now, long long leeway,
                                   struct jwt_identity *out) {
    bool bad = false;
    long long nbf, iat;
    if (!time_claim(claims, "exp", &out->exp, &bad)) return JWT_NO_EXPIRY;
    if (now >= out->exp + leeway) return JWT_EXPIRED;
    if (time_claim(claims, "nbf", &nbf, &bad) && now + leeway < nbf) return JWT_NOT_YET_VALID;
    if (time_claim(claims, "iat", &iat, &bad) && now + leeway < iat) return JWT_NOT_YET_VALID;
    return bad ? JWT_BAD_CLAIMS : JWT_OK;
}

static bool audience_has(json_t *aud, const char *want) {
    if (json_is_string(aud)) return strcmp(json_string_value(aud), want) == 0;
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v) if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
        return true;
    return false;
}

static enum jwt_status parties_check(json_t *claims, const struct jwt_policy *p,
                                     struct jwt_identity *out) {
    json_t *iss = json_object_get(claims, "iss");
    json_t *aud = json_object_get(claims, "aud");
    if (iss && (!json_is_string(iss) || json_string_length(iss) > JWT_ISSUER_MAX))
        return JWT_WRONG_ISSUER;
    if (p->issuer && p->issuer[0] && (!iss || strcmp(json_string_value(iss), p->issuer) != 0))
        return JWT_WRONG_ISSUER;
    if (p->audience && p->audience[0] ? !aud || !audience_has(aud, p->audience) : aud != NULL)
        return JWT_WRONG_AUDIENCE;
    snprintf(out->issuer, sizeof(out->issuer), "%s", iss ? json_string_value(iss) : "");
    return JWT_OK;
}

/* A string claim of 1 to max bytes without control characters. */
static const char *text_claim(json_t *claims, const char *name, size_t max) {
    json_t *v = json_object_get(claims, name);
    const char *s = json_string_value(v);
    if (!s || json_string_length(v) == 0 || json_string_length(v) > max ||
        strlen(s) != json_string_length(v))
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return NULL;
    return s;
}

static enum jwt_status person_check(json_t *claims, struct jwt_identity *out) {
    const char *sub = text_claim(claims, "sub", JWT_SUBJECT_MAX);
    if (!sub) return JWT_BAD_SUBJECT;
    snprintf(out->subject, sizeof(out->subject), "%s", sub);
    json_t *name = json_object_get(claims, "name");
    const char *display = name ? json_string_value(name) : sub;
    size_t len = display ? strlen(display) : 0;
    if (!display || (name && len != json_string_length(name)) ||
        validate_name(display, len) != API_E_OK)
        return JWT_BAD_NAME;
    snprintf(out->name, sizeof(out->name), "%s", display);
    json_t *jti = json_object_get(claims, "jti");
    const char *id = jti ? text_claim(claims, "jti", JWT_ID_MAX) : "";
    if (!id) return JWT_BAD_ID;
    snprintf(out->jti, sizeof(out->jti), "%s", id);
    return JWT_OK;
}

static enum jwt_status rooms_check(json_t *claims, struct jwt_identity *out) {
    json_t *rooms = json_object_get(claims, "rooms");
    out->rooms_limited = rooms != NULL;
    out->rooms[0] = '\0';
    if (!rooms) return JWT_OK;
    if (!json_is_array(rooms) || json_array_size(rooms) > JWT_ROOMS_MAX) return JWT_BAD_ROOMS;
    size_t used = 0, i;
    json_t *v;
    json_array_foreach(rooms, i, v) {
        const char *room = json_string_value(v);
        if (!room || strlen(room) != json_string_length(v) || !validate_room_name(room))
            return JWT_BAD_ROOMS;
        int n = snprintf(out->rooms + used, sizeof(out->rooms) - used, "%s%s", i ? "," : "",
                         room);
        if (n < 0 || (size_t)n >= sizeof(out->rooms) - used) return JWT_BAD_ROOMS;
        used += (size_t)n;
    }
    return JWT_OK;
}

static enum jwt_status claims_check(const uint8_t *payload, size_t len,
                                    const struct jwt_policy *p, long long now,
                                    struct jwt_identity *out) {
    json_t *claims = json_loadb((const char *)payload, len, JSON_REJECT_DUPLICATES, NULL);
    enum jwt_status st = json_is_object(claims) ? JWT_OK : JWT_BAD_CLAIMS;
    if (st == JWT_OK) st = times_check(claims, now, p->leeway_s, out);
    if (st == JWT_OK) st = parties_check(claims, p, out);
    if (st == JWT_OK) st = person_check(claims, out);
    if (st == JWT_OK) st = rooms_check(claims, out);
    json_decref(claims);
    return st;
}

enum jwt_status jwt_verify(const struct jwt_keys *keys, const struct jwt_policy *policy,
                           const char *token, size_t len, long long now_s,
                           struct jwt_identity *out) {
    size_t header_len = 0;
    struct jwt_header h;
    if (len > JWT_TOKEN_MAX) return JWT_TOO_LARGE;
    if (!compact_shape(token, len, &header_len)) return JWT_MALFORMED;
    enum jwt_status st = header_read(token, header_len, &h);
    if (st != JWT_OK) return st;
    cjose_err cerr;
    cjose_jws_t *jws = cjose_jws_import(token, len, &cerr);
    if (!jws) return JWT_MALFORMED;
    st = signature_check(keys, &h, jws);
    uint8_t *payload = NULL;
    size_t payload_len = 0;
    if (st == JWT_OK && !cjose_jws_get_plaintext(jws, &payload, &payload_len, &cerr))
        st = JWT_BAD_CLAIMS;
    if (st == JWT_OK) st = claims_check(payload, payload_len, policy, now_s, out);
    cjose_jws_release(jws);
    return st;
}

/* ---- accounts and rooms ---- */

void jwt_account_handle(const char *issuer, const char *subject, char out[JWT_HANDLE_LEN + 1]) {
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)issuer, strlen(issuer));
    crypto_hash_sha256_update(&st, (const unsigned char *)"\n", 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)subject, strlen(subject));
    crypto_hash_sha256_final(&st, digest);
    memcpy(out, JWT_HANDLE_PREFIX, sizeof(JWT_HANDLE_PREFIX) - 1);
    sodium_bin2hex(out + sizeof(JWT_HANDLE_PREFIX) - 1, 65, digest, sizeof(digest));
}

bool jwt_is_account_handle(const char *email) {
    return strncmp(email, JWT_HANDLE_PREFIX, sizeof(JWT_HANDLE_PREFIX) - 1) == 0;
}

bool jwt_rooms_allow(const struct session_user *u, const char *room) {
    if (!u->rooms_limited) return true;
    size_t want = strlen(room);
    for (const char *p = u->rooms; *p;) {
        size_t len = strcspn(p, ",");
        if (len == want && memcmp(p, room, len) == 0) return true;
        p += len + (p[len] == ',');
    }
    return false;
}
