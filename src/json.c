/* json: request decoding and reply encoding. */
#include "json.h"

#include <event2/buffer.h>
#include <string.h>

chat_error json_parse_object(const char *body, size_t len, json_t **out) {
    json_error_t error;
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &error);
    if (!v || !json_is_object(v)) {
        json_decref(v);
        return CHAT_E_BAD_JSON;
    }
    *out = v;
    return CHAT_E_OK;
}

chat_error json_get_string(const json_t *obj, const char *key, bool required, chat_error bad,
                           const char **s, size_t *len) {
    const json_t *v = json_object_get(obj, key);
    *s = NULL;
    *len = 0;
    if (!v || (!required && json_is_null(v))) return required ? bad : CHAT_E_OK;
    if (!json_is_string(v)) return bad;
    *s = json_string_value(v);
    *len = json_string_length(v);
    return CHAT_E_OK;
}

json_t *json_message(const struct message *m) {
    json_t *text = json_stringn(m->text, m->text_len);
    if (!text) return NULL;
    return json_pack("{s:s, s:s, s:s, s:o, s:I}", "id", m->id, "userId", m->user_id, "name",
                     m->name, "text", text, "timestamp", (json_int_t)m->timestamp);
}

static int dump_to_evbuffer(const char *buf, size_t size, void *data) {
    return evbuffer_add(data, buf, size);
}

int json_append(struct evbuffer *out, const json_t *value) {
    return json_dump_callback(value, dump_to_evbuffer, out, JSON_COMPACT);
}

int json_message_append(struct evbuffer *out, const struct message *m) {
    json_t *v = json_message(m);
    if (!v) return -1;
    int rc = json_append(out, v);
    json_decref(v);
    return rc;
}

int json_error_append(struct evbuffer *out, chat_error e, const char *message) {
    json_t *v = json_pack("{s:{s:s, s:s}}", "error", "code", chat_error_code(e), "message",
                          message ? message : chat_error_message(e));
    if (!v) return -1;
    int rc = json_append(out, v);
    json_decref(v);
    return rc;
}
