/* ws_protocol: the JSON messages of GET /ws, see ws_protocol.h. */
#include "ws_protocol.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "request_body.h"
#include "validate.h"

static const char *const type_names[] = {
    [WS_MSG_AUTH] = "auth",
    [WS_MSG_SUBSCRIBE] = "subscribe",
    [WS_MSG_UNSUBSCRIBE] = "unsubscribe",
    [WS_MSG_SEND] = "send",
    [WS_MSG_SUBSCRIBE_USER] = "subscribe_user",
};

static int type_of(const char *name) {
    for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
        if (strcmp(name, type_names[i]) == 0) return (int)i;
    return -1;
}

static api_error read_room(const json_t *obj, struct ws_msg *out) {
    const char *room;
    size_t len;
    api_error e = json_get_string(obj, "room", true, API_E_INVALID_ROOM, &room, &len);
    if (e != API_E_OK) return e;
    if (len > CHAT_ROOM_MAX || strlen(room) != len || !validate_room_name(room))
        return API_E_INVALID_ROOM;
    memcpy(out->room, room, len + 1);
    return API_E_OK;
}

static api_error read_after(const json_t *obj, struct ws_msg *out) {
    const char *after;
    size_t len;
    api_error e = json_get_string(obj, "after", false, API_E_INVALID_QUERY, &after, &len);
    if (e != API_E_OK || !after) return e;
    if (len > CHAT_STREAM_ID_MAX || strlen(after) != len || !validate_stream_id(after))
        return API_E_INVALID_QUERY;
    memcpy(out->after, after, len + 1);
    return API_E_OK;
}

/* subscribe's "signals": absent (false) or a boolean. */
static api_error read_signals(const json_t *obj, struct ws_msg *out) {
    const json_t *v = json_object_get(obj, "signals");
    if (v && !json_is_boolean(v)) return API_E_BAD_REQUEST;
    out->signals = json_is_true(v);
    return API_E_OK;
}

static api_error read_token(const json_t *obj, struct ws_msg *out) {
    const char *token;
    size_t len;
    api_error e = json_get_string(obj, "authKey", true, API_E_UNAUTHORIZED, &token, &len);
    if (e != API_E_OK || len != TOKEN_LEN) return API_E_UNAUTHORIZED;
    memcpy(out->token, token, len + 1);
    return API_E_OK;
}

/* A send's clientMsgId when it is valid, read first so that an error about
 * any other member still names the send it answers. */
static void read_client_msg_id(const json_t *obj, struct ws_msg *out) {
    const char *id;
    size_t len;
    if (json_get_string(obj, "clientMsgId", false, API_E_INVALID_CLIENT_MSG_ID, &id, &len) ==
            API_E_OK &&
        id && len <= CHAT_CLIENT_MSG_ID_MAX && validate_client_msg_id(id, len))
        memcpy(out->client_msg_id, id, len + 1);
}

static api_error read_send(const json_t *obj, struct ws_msg *out) {
    struct message_body mb;
    api_error e = request_body_message(obj, NULL, &mb);
    if (e != API_E_OK) return e;
    out->text = mb.text;
    out->text_len = mb.text_len;
    if (mb.client_msg_id)
        memcpy(out->client_msg_id, mb.client_msg_id, strlen(mb.client_msg_id) + 1);
    memcpy(out->reply_to, mb.reply_to, sizeof(out->reply_to));
    return API_E_OK;
}

static api_error read_members(const json_t *obj, struct ws_msg *out) {
    switch (out->type) {
    case WS_MSG_AUTH: return read_token(obj, out);
    case WS_MSG_SUBSCRIBE: {
        api_error e = read_room(obj, out);
        if (e == API_E_OK) e = read_after(obj, out);
        return e == API_E_OK ? read_signals(obj, out) : e;
    }
    case WS_MSG_UNSUBSCRIBE: return read_room(obj, out);
    case WS_MSG_SEND: {
        read_client_msg_id(obj, out);
        api_error e = read_room(obj, out);
        return e == API_E_OK ? read_send(obj, out) : e;
    }
    case WS_MSG_SUBSCRIBE_USER: return API_E_OK;
    }
    return API_E_BAD_REQUEST;
}

api_error ws_protocol_parse(const char *data, size_t len, struct ws_msg *out, const char **what) {
    memset(out, 0, sizeof(*out));
    *what = NULL;
    api_error e = json_parse_object(data, len, &out->json);
    if (e != API_E_OK) return e;
    const char *type;
    size_t type_len;
    int t = -1;
    if (json_get_string(out->json, "type", true, API_E_BAD_REQUEST, &type, &type_len) ==
            API_E_OK &&
        strlen(type) == type_len)
        t = type_of(type);
    if (t < 0) {
        *what = "\"type\" must be auth, subscribe, unsubscribe, send or subscribe_user.";
        e = API_E_BAD_REQUEST;
    } else {
        out->type = (enum ws_msg_type)t;
        e = read_members(out->json, out);
    }
    if (e != API_E_OK) ws_msg_cleanup(out);
    return e;
}

void ws_msg_cleanup(struct ws_msg *m) {
    json_decref(m->json);
    m->json = NULL;
    m->text = NULL;
}

/* Appends value (stolen) compactly. */
static int append_value(struct evbuffer *out, json_t *value) {
    int rc = value ? json_append(out, value) : -1;
    json_decref(value);
    return rc;
}

int ws_protocol_ready_append(struct evbuffer *out, const struct session_user *u) {
    return append_value(out, json_pack("{s:s, s:{s:s, s:s}}", "type", "ready", "user", "id",
                                       u->id, "name", u->name));
}

int ws_protocol_subscribed_append(struct evbuffer *out, const char *room, const char *id) {
    return append_value(out, json_pack("{s:s, s:s, s:s?}", "type", "subscribed", "room", room,
                                       "id", id[0] ? id : NULL));
}

int ws_protocol_unsubscribed_append(struct evbuffer *out, const char *room, const char *reason) {
    return append_value(out, json_pack("{s:s, s:s, s:s?}", "type", "unsubscribed", "room", room,
                                       "reason", reason));
}

/* Appends m's members after a prefix such as {"type":"message","room":"r",. */
static int append_with_prefix(struct evbuffer *out, const char *prefix, size_t prefix_len,
                              const struct message *m) {
    struct evbuffer *json = evbuffer_new();
    int rc = json ? json_message_append(json, m) : -1;
    if (rc == 0) {
        evbuffer_drain(json, 1); /* its "{" */
        if (evbuffer_add(out, prefix, prefix_len) < 0 || evbuffer_add_buffer(out, json) < 0)
            rc = -1;
    }
    if (json) evbuffer_free(json);
    return rc;
}

int ws_protocol_message_append(struct evbuffer *out, const char *room, const struct message *m) {
    char prefix[CHAT_ROOM_MAX + 48];
    int n = snprintf(prefix, sizeof(prefix), "{\"type\":\"message\",\"room\":\"%s\",", room);
    return append_with_prefix(out, prefix, (size_t)n, m);
}

int ws_protocol_user_subscribed_append(struct evbuffer *out) {
    return append_value(out, json_pack("{s:s}", "type", "user_subscribed"));
}

int ws_protocol_signal_append(struct evbuffer *out, const char *kind, const char *data,
                              size_t len) {
    if (len < 2 || data[0] != '{') return -1;
    if (evbuffer_add_printf(out, "{\"type\":\"%s\",", kind) < 0 ||
        evbuffer_add(out, data + 1, len - 1) < 0)
        return -1;
    return 0;
}

int ws_protocol_gap_append(struct evbuffer *out, const char *room, const char *first) {
    return append_value(out, json_pack("{s:s, s:s, s:s?, s:b}", "type", "gap", "room", room,
                                       "first", first[0] ? first : NULL, "trimmed", 1));
}

int ws_protocol_ack_append(struct evbuffer *out, const char *client_msg_id, bool replayed,
                           const struct message *m) {
    char prefix[CHAT_CLIENT_MSG_ID_MAX + 64];
    int n = snprintf(prefix, sizeof(prefix), "{\"type\":\"ack\",\"replayed\":%s,",
                     replayed ? "true" : "false");
    if (client_msg_id && client_msg_id[0]) /* its characters need no escaping */
        n += snprintf(prefix + n, sizeof(prefix) - (size_t)n, "\"clientMsgId\":\"%s\",",
                      client_msg_id);
    n += snprintf(prefix + n, sizeof(prefix) - (size_t)n, "\"message\":");
    struct evbuffer *json = evbuffer_new();
    int rc = json ? json_message_append(json, m) : -1;
    if (rc == 0 && (evbuffer_add(out, prefix, (size_t)n) < 0 ||
                    evbuffer_add_buffer(out, json) < 0 || evbuffer_add(out, "}", 1) < 0))
        rc = -1;
    if (json) evbuffer_free(json);
    return rc;
}

int ws_protocol_error_append(struct evbuffer *out, api_error e, const char *message,
                             const char *client_msg_id, const char *room, int retry_after_s) {
    json_t *v = json_pack("{s:s, s:s, s:s}", "type", "error", "code", api_error_code(e),
                          "message", message ? message : api_error_message(e));
    if (v && client_msg_id && client_msg_id[0])
        json_object_set_new(v, "clientMsgId", json_string(client_msg_id));
    if (v && room && room[0]) json_object_set_new(v, "room", json_string(room));
    if (v && retry_after_s > 0) json_object_set_new(v, "retryAfter", json_integer(retry_after_s));
    return append_value(out, v);
}
