/*
 * webhook_event: the pure half of webhooks (no I/O): the event kinds, the
 * registered endpoints parsed from --webhook, the queue shard an event goes
 * to, the event's id and JSON body, and the signature of a delivery
 * (docs/API.md, "Webhooks").
 */
#ifndef CHAT_WEBHOOK_EVENT_H
#define CHAT_WEBHOOK_EVENT_H

#include <jansson.h>
#include <stddef.h>

/* The events an application can register for. */
enum webhook_kind {
    WEBHOOK_MESSAGE_CREATED,
    WEBHOOK_MESSAGE_EDITED,
    WEBHOOK_MESSAGE_REMOVED,
    WEBHOOK_MEMBER_JOINED,
    WEBHOOK_MEMBER_LEFT,
    WEBHOOK_MEMBER_BANNED,
    WEBHOOK_USER_REGISTERED,
    WEBHOOK_MEMBER_ROLE,     /* a member made owner, moderator or member */
    WEBHOOK_MEMBER_UNBANNED, /* a ban lifted */
    WEBHOOK_ROOM_CREATED,    /* a room or a direct conversation */
    WEBHOOK_KIND_COUNT,
};
#define WEBHOOK_KINDS_ALL ((1u << WEBHOOK_KIND_COUNT) - 1)

#define WEBHOOK_ENDPOINTS_MAX 16
#define WEBHOOK_URL_MAX 1024
#define WEBHOOK_ID_LEN 36        /* "evt_" and 32 hex digits */
#define WEBHOOK_SIGNATURE_LEN 67 /* "v1=" and 64 hex digits */
#define WEBHOOK_SECRET_MIN 16

/* One registered URL and the kinds it receives (a bit per kind). */
struct webhook_endpoint {
    char url[WEBHOOK_URL_MAX];
    unsigned kinds;
};

/* "message.created" and so on; NULL outside the enum. */
const char *webhook_kind_name(enum webhook_kind kind);
/* The kind named by the len bytes of name, or -1. */
int webhook_kind_parse(const char *name, size_t len);

/* Parses spec, "URL[,kind...]" entries separated by spaces, into out (at
 * most WEBHOOK_ENDPOINTS_MAX); an entry without kinds receives all. Each
 * URL must start with http:// or https://. Returns the count, or -1 with
 * the reason in err. */
int webhook_endpoints_parse(const char *spec, struct webhook_endpoint *out, char err[256]);

/* The queue shard (0..shards-1) of the events about key (a room name, or a
 * user id for user events): every event of a room goes to one shard, so a
 * room's events are queued in order. */
unsigned webhook_shard_of(const char *key, unsigned shards);

/* The event's id, the same every time the same action is reported (a
 * retried request's event is a duplicate the receiver drops): "evt_" and
 * 32 hex digits of a SHA-256 of kind, scope (the room, or "" for a user
 * event) and ref (the id of what it reports). */
void webhook_event_id(char out[WEBHOOK_ID_LEN + 1], enum webhook_kind kind, const char *scope,
                      const char *ref);

/* The event's JSON body, {"id","type","timestamp","data"}, compact; data is
 * borrowed. A string to free(), or NULL when out of memory. */
char *webhook_event_body(enum webhook_kind kind, const char *id, long long timestamp_ms,
                         json_t *data);

/* The signature header's value, "v1=" and the hex HMAC-SHA256, keyed with
 * the secret, of "<timestamp_s>.<body>". */
void webhook_sign(char out[WEBHOOK_SIGNATURE_LEN + 1], const unsigned char *secret,
                  size_t secret_len, long long timestamp_s, const char *body, size_t body_len);

#endif
