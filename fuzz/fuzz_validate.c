/*
 * fuzz_validate: any bytes through the input checks of src/validate.c: room
 * names (and the Redis keys and slot built from an accepted one), e-mail
 * addresses, names, texts, stream ids and client message ids. UTF-8 is
 * checked against jansson's own decoder; accepted values must keep the
 * documented limits.
 */
#include <jansson.h>

#include "fuzz.h"
#include "slot.h"
#include "store_keys.h"
#include "validate.h"

static bool in_set(const char *s, const char *extra) {
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr(extra, c))) return false;
    }
    return true;
}

static void check_room(const char *s) {
    char key[STORE_KEY_MAX];
    if (!validate_room_name(s)) return;
    size_t len = strlen(s);
    FUZZ_ASSERT(len >= 1 && len <= CHAT_ROOM_MAX && in_set(s, "_-"));
    int n = store_key_room_messages(key, sizeof(key), s);
    FUZZ_ASSERT(n > 0 && (size_t)n == strlen(key));
    /* every key of a room hashes to the room's slot */
    FUZZ_ASSERT(slot_for_key(key, (size_t)n) == slot_for_key(s, len));
    FUZZ_ASSERT(store_key_room_dedup(key, sizeof(key), s, "0123456789abcdef0123456789abcdef",
                                     "id") > 0);
}

static void check_email(const char *data, size_t size) {
    char out[CHAT_EMAIL_MAX + 1], again[CHAT_EMAIL_MAX + 1], name[CHAT_NAME_MAX_BYTES + 1];
    if (validate_email(data, size, out) != API_E_OK) return;
    size_t len = strlen(out);
    FUZZ_ASSERT(len >= 3 && len <= CHAT_EMAIL_MAX && strchr(out, '@'));
    FUZZ_ASSERT(validate_email(out, len, again) == API_E_OK && strcmp(out, again) == 0);
    validate_default_name(out, name);
    FUZZ_ASSERT(validate_name(name, strlen(name)) == API_E_OK);
}

static void check_text_and_name(const char *data, size_t size) {
    bool utf8 = utf8_valid(data, size, NULL);
    json_t *s = json_stringn(data, size); /* jansson refuses invalid UTF-8 */
    FUZZ_ASSERT(utf8 == (s != NULL));
    json_decref(s);
    if (validate_text(data, size) == API_E_OK)
        FUZZ_ASSERT(utf8 && size >= 1 && size <= CHAT_TEXT_MAX);
    if (validate_name(data, size) == API_E_OK)
        FUZZ_ASSERT(utf8 && size >= 1 && size <= CHAT_NAME_MAX_BYTES && !memchr(data, 0, size));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = fuzz_cstring(data, size);
    check_room(s);
    check_email((const char *)data, size);
    check_text_and_name((const char *)data, size);
    if (validate_stream_id(s)) FUZZ_ASSERT(strlen(s) <= CHAT_STREAM_ID_MAX && in_set(s, "-"));
    if (validate_client_msg_id((const char *)data, size))
        FUZZ_ASSERT(size <= CHAT_CLIENT_MSG_ID_MAX && !memchr(data, 0, size));
    (void)validate_password((const char *)data, size);
    free(s);
    return 0;
}
