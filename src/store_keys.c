/* store_keys: key names of the schema described in store_keys.h. */
#include "store_keys.h"

#include <stdbool.h>
#include <stdio.h>

static int fit(int n, size_t size) { return n < 0 || (size_t)n >= size ? -1 : n; }

int store_key_user(char *out, size_t size, const char *email) {
    return fit(snprintf(out, size, "user:%s", email), size);
}

int store_key_session(char *out, size_t size, const char *token_hash) {
    return fit(snprintf(out, size, "session:%s", token_hash), size);
}

/* A user's feed ("~<userId>") is read as a room: its keys are the user's. */
static bool is_feed(const char *room) { return room[0] == STORE_FEED_USER; }

int store_key_room_messages(char *out, size_t size, const char *room) {
    if (is_feed(room)) return store_key_user_events(out, size, room + 1);
    return fit(snprintf(out, size, "room:{%s}:messages", room), size);
}

int store_key_room_edits(char *out, size_t size, const char *room) {
    if (is_feed(room)) return fit(snprintf(out, size, "user:{%s}:edits", room + 1), size);
    return fit(snprintf(out, size, "room:{%s}:edits", room), size);
}

int store_key_room_reactors(char *out, size_t size, const char *room, const char *message_id) {
    return fit(snprintf(out, size, "room:{%s}:reactors:%s", room, message_id), size);
}

int store_key_room_retention(char *out, size_t size, const char *room) {
    return fit(snprintf(out, size, "room:{%s}:retention", room), size);
}

int store_key_room_doorbell(char *out, size_t size, const char *room) {
    if (is_feed(room)) return fit(snprintf(out, size, "user:{%s}:doorbell", room + 1), size);
    return fit(snprintf(out, size, "room:{%s}:doorbell", room), size);
}

int store_key_room_presence(char *out, size_t size, const char *room, const char *which) {
    return fit(snprintf(out, size, "room:{%s}:%s", room, which), size);
}

int store_key_room_dedup(char *out, size_t size, const char *room, const char *user_id,
                         const char *client_msg_id) {
    return fit(snprintf(out, size, "room:{%s}:dedup:%s:%s", room, user_id, client_msg_id), size);
}

int store_key_user_sessions(char *out, size_t size, const char *user_id) {
    return fit(snprintf(out, size, "user-sessions:%s", user_id), size);
}

int store_key_user_rooms(char *out, size_t size, const char *user_id) {
    return fit(snprintf(out, size, "user-rooms:%s", user_id), size);
}

int store_key_rate(char *out, size_t size, const char *limit, const char *subject) {
    return fit(snprintf(out, size, "rate:%s:%s", limit, subject), size);
}

int store_key_login_known(char *out, size_t size, const char *email, const char *address) {
    return fit(snprintf(out, size, "login-known:%s:%s", email, address), size);
}

int store_key_token_used(char *out, size_t size, const char *token_id_hash) {
    return fit(snprintf(out, size, "jwt-used:%s", token_id_hash), size);
}

int store_key_room_members(char *out, size_t size, const char *room) {
    return fit(snprintf(out, size, "room:{%s}:members", room), size);
}

int store_key_room_member_names(char *out, size_t size, const char *room) {
    return fit(snprintf(out, size, "room:{%s}:names", room), size);
}

int store_key_user_memberships(char *out, size_t size, const char *user_id) {
    return fit(snprintf(out, size, "user-memberships:%s", user_id), size);
}

int store_key_user_id(char *out, size_t size, const char *user_id) {
    return fit(snprintf(out, size, "user-id:%s", user_id), size);
}

int store_key_apikey(char *out, size_t size, const char *key_id) {
    return fit(snprintf(out, size, "apikey:%s", key_id), size);
}

int store_key_webhook_shard(char *out, size_t size, unsigned n) {
    return fit(snprintf(out, size, "webhook:{%u}", n), size);
}

int store_key_webhook_dead(char *out, size_t size, unsigned n) {
    return fit(snprintf(out, size, "webhook:{%u}:dead", n), size);
}

int store_key_user_read(char *out, size_t size, const char *user_id) {
    return fit(snprintf(out, size, "user:{%s}:read", user_id), size);
}

int store_key_user_events(char *out, size_t size, const char *user_id) {
    return fit(snprintf(out, size, "user:{%s}:events", user_id), size);
}

int store_feed_of_user(char *out, size_t size, const char *user_id) {
    return fit(snprintf(out, size, "%c%s", STORE_FEED_USER, user_id), size);
}
