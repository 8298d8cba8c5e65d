/*
 * store_keys: the Redis key names (pure, no I/O). Keys that a command uses
 * together share a hash tag, so each command touches one cluster slot:
 *   user:<email>                 hash: id, email, name, pw, created
 *   session:<sha256(token)>      string "v1\n<id>\n<email>\n<name>", EX ttl
 *   room:{<room>}:messages       stream: userId, name, text, timestamp
 *   room:{<room>}:dedup:<userId>:<clientMsgId>   string: message id, EX 24 h
 *   room:{<room>}:retention      hash: maxMessages, maxAge (the room's own retention)
 *   room:{<room>}:members        hash: kind ("public"/"private"), <userId> -> role
 *   room-names                   sorted set (all scores 0): the names of the public rooms
 *   user-rooms:<userId>          string: how many rooms the user created
 *   user-memberships:<userId>    hash: <room> -> "<kind>:<role>" (the user's rooms)
 *   user-id:<userId>             string: the user's e-mail (finds a user by id)
 *   user-sessions:<userId>       sorted set: session hashes, scored by login time (ms)
 *   rate:<limit>:<subject>       string: hits in the current window, PX window
 *   login-known:<email>:<address> string "1": that address logged in, EX session ttl
 *   apikey:<id>                  hash: hash, name, created (a server-API key, apikey.h)
 *   apikeys                      sorted set: the key ids, scored by creation time (ms)
 *   webhook:{<n>}                stream: id, url, body (the webhook queue's shard n;
 *                                consumer group chatd-webhooks)
 *   webhook:{<n>}:dead           stream: id, url, body, reason (its dead letters)
 *   user:{<userId>}:read         hash: <room> -> the id the user read the room up to
 *   user:{<userId>}:events       stream: the user's own events (a marker moved), short
 *   room:{<room>}:presence       sorted set: "<chatd node>|<userId>", scored by expiry (ms)
 *   room:{<room>}:online         sorted set (all scores 0): the ids of the users online
 *   room:{<room>}:online-names   hash: <userId> -> name, of the users online
 *   room:{<room>}:online-refs    hash: <userId> -> how many presence entries the user has
 * one pub/sub channel:
 *   chatd:sessions-ended         the token hashes of sessions just ended
 * and one sharded pub/sub channel per room, in the slot of its stream:
 *   room:{<room>}:doorbell       rung (SPUBLISH) after each append; ephemeral
 *                                signals (ephemeral.h) travel on it too
 *   user:{<userId>}:doorbell     rung after each append to the user's events
 * A user's feed, "~<userId>" (STORE_FEED_USER), is read like a room by the
 * hub: the room keys of a feed name are the user's events and doorbell
 * (and an edits key that is never written), in the user's slot. No room
 * name has a '~', so no client can name a feed.
 * Each function writes a NUL-terminated key into out and returns its length,
 * or -1 when it does not fit in size bytes.
 */
#ifndef CHAT_STORE_KEYS_H
#define CHAT_STORE_KEYS_H

#include <stddef.h>

#define STORE_KEY_MAX 512
#define STORE_KEY_ROOMS "room-names"
#define STORE_CHANNEL_SESSIONS_ENDED "chatd:sessions-ended"
#define STORE_KEY_APIKEYS "apikeys"

int store_key_user(char *out, size_t size, const char *email);
int store_key_session(char *out, size_t size, const char *token_hash);
int store_key_room_messages(char *out, size_t size, const char *room);
/* The latest text of each edited message of a room, field: message id,
 * value "<edit ms>:<text>" (room:{<room>}:edits, in the room's slot); it
 * also holds the messages' reactions (docs/STORAGE.md). */
int store_key_room_edits(char *out, size_t size, const char *room);
int store_key_user_sessions(char *out, size_t size, const char *user_id);
int store_key_user_rooms(char *out, size_t size, const char *user_id);
int store_key_rate(char *out, size_t size, const char *limit, const char *subject);
int store_key_room_retention(char *out, size_t size, const char *room);
int store_key_login_known(char *out, size_t size, const char *email, const char *address);
/* jwt-used:<hex>: a token id (its hash) already exchanged. */
int store_key_token_used(char *out, size_t size, const char *token_id_hash);
int store_key_room_doorbell(char *out, size_t size, const char *room);
/* The room's presence keys: which is "presence", "online",
 * "online-names" or "online-refs" (see above). */
int store_key_room_presence(char *out, size_t size, const char *room, const char *which);
int store_key_room_members(char *out, size_t size, const char *room);
/* room:{<room>}:names: the display names of the room's members, in its slot. */
int store_key_room_member_names(char *out, size_t size, const char *room);
int store_key_user_memberships(char *out, size_t size, const char *user_id);
int store_key_user_id(char *out, size_t size, const char *user_id);
/* user:{<userId>}:read, the user's read markers, and user:{<userId>}:events,
 * the user's own events, in one slot (the user's hash tag). */
int store_key_user_read(char *out, size_t size, const char *user_id);
int store_key_user_events(char *out, size_t size, const char *user_id);
/* The hub's name of a user's own feed, "~<userId>"; -1 when it does not fit. */
#define STORE_FEED_USER '~'
int store_feed_of_user(char *out, size_t size, const char *user_id);
int store_key_room_dedup(char *out, size_t size, const char *room, const char *user_id,
                         const char *client_msg_id);
/* room:{<room>}:reactors:<message id>: "<user id> <emoji>" for each
 * reaction on the message, in the room's slot. */
int store_key_room_reactors(char *out, size_t size, const char *room, const char *message_id);

/* apikey:<id>: a key of the server API (store_api.c, chatctl). */
int store_key_apikey(char *out, size_t size, const char *key_id);

/* The webhook queue's shard n and its dead letters (one slot). */
int store_key_webhook_shard(char *out, size_t size, unsigned n);
int store_key_webhook_dead(char *out, size_t size, unsigned n);

#endif
