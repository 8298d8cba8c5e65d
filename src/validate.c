/* validate: input checks for e-mail, password, name, text and ids. */
#include "validate.h"

#include <stdint.h>
#include <string.h>

/* Length of the UTF-8 sequence starting at s (at most len bytes), or 0 when
 * it is malformed. Follows the table of well-formed sequences in Unicode 3.9. */
static size_t utf8_sequence(const unsigned char *s, size_t len) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else return 0;
    if (len < n) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return n;
}

bool utf8_valid(const char *s, size_t len, size_t *chars) {
    const unsigned char *p = (const unsigned char *)s;
    size_t count = 0;
    for (size_t i = 0; i < len; count++) {
        uint64_t word; /* ASCII runs, eight bytes at a time */
        while (len - i >= 8 && (memcpy(&word, p + i, 8), (word & 0x8080808080808080ULL) == 0)) {
            i += 8;
            count += 8;
        }
        if (i == len) break;
        size_t n = utf8_sequence(p + i, len - i);
        if (n == 0) return false;
        i += n;
    }
    if (chars) *chars = count;
    return true;
}

static bool is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool only_space(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (!is_space((unsigned char)s[i])) return false;
    return true;
}

/* Characters allowed unquoted in the local part (RFC 5322 atext). */
static bool is_atext(unsigned char c) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
    return c && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static bool valid_local(const char *s, size_t len) {
    if (len == 0 || len > 64 || s[0] == '.' || s[len - 1] == '.') return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (s[i + 1] == '.') return false;
        } else if (!is_atext(c)) return false;
    }
    return true;
}

static bool valid_label(const char *s, size_t len) {
    if (len == 0 || len > 63 || s[0] == '-' || s[len - 1] == '-') return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    }
    return true;
}

static bool valid_domain(const char *s, size_t len) {
    size_t labels = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (!valid_label(s + start, i - start)) return false;
            labels++;
            start = i + 1;
        }
    }
    return labels >= 2;
}

api_error validate_email(const char *in, size_t len, char *out) {
    while (len && is_space((unsigned char)in[0])) in++, len--;
    while (len && is_space((unsigned char)in[len - 1])) len--;
    if (len == 0 || len > CHAT_EMAIL_MAX) return API_E_INVALID_EMAIL;
    const char *at = NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        out[i] = (char)((c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c);
        if (c == '@') {
            if (at) return API_E_INVALID_EMAIL;
            at = out + i;
        }
    }
    out[len] = '\0';
    if (!at) return API_E_INVALID_EMAIL;
    size_t local_len = (size_t)(at - out);
    if (!valid_local(out, local_len) || !valid_domain(at + 1, len - local_len - 1))
        return API_E_INVALID_EMAIL;
    return API_E_OK;
}

api_error validate_password(const char *pw, size_t len) {
    if (len < CHAT_PASSWORD_MIN || len > CHAT_PASSWORD_MAX) return API_E_INVALID_PASSWORD;
    if (memchr(pw, '\0', len)) return API_E_INVALID_PASSWORD;
    return API_E_OK;
}

/* True when the UTF-8 text has a C0 control, DEL or a C1 control; tab, line
 * feed and carriage return are allowed when allow_newlines is set. */
static bool has_controls(const char *s, size_t len, bool allow_newlines) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < 0x20) {
            if (allow_newlines && (p[i] == '\t' || p[i] == '\n' || p[i] == '\r')) continue;
            return true;
        }
        if (p[i] == 0x7F) return true;
        if (p[i] == 0xC2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F) return true;
    }
    return false;
}

api_error validate_name(const char *name, size_t len) {
    size_t chars;
    if (len == 0 || len > CHAT_NAME_MAX_BYTES || !utf8_valid(name, len, &chars) ||
        chars > CHAT_NAME_MAX_CHARS || has_controls(name, len, false) || only_space(name, len))
        return API_E_INVALID_NAME;
    return API_E_OK;
}

api_error validate_text(const char *text, size_t len) {
    if (len == 0 || len > CHAT_TEXT_MAX || !utf8_valid(text, len, NULL) ||
        has_controls(text, len, true) || only_space(text, len))
        return API_E_INVALID_TEXT;
    return API_E_OK;
}

bool validate_stream_id(const char *id) {
    unsigned long long part[2];
    return chat_wire_stream_id_parse(id, part) == 0;
}

void validate_default_name(const char *email, char *out) {
    size_t len = strcspn(email, "@");
    if (len > CHAT_NAME_MAX_CHARS) len = CHAT_NAME_MAX_CHARS; /* the local part is ASCII */
    memcpy(out, email, len);
    out[len] = '\0';
}

bool validate_client_msg_id(const char *id, size_t len) {
    return chat_wire_client_msg_id_valid(id, len);
}

bool validate_room_name(const char *name) { return chat_wire_room_valid(name); }

bool validate_user_id(const char *id, size_t len) {
    if (len != 32) return false;
    for (size_t i = 0; i < len; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'))) return false;
    return true;
}
