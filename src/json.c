/* json: request decoding and reply encoding. */
#include "json.h"

#include <event2/buffer.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "numfmt.h"
#include "validate.h"

api_error json_parse_object(const char *body, size_t len, json_t **out) {
    json_error_t error;
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &error);
    if (!v || !json_is_object(v)) {
        json_decref(v);
        return API_E_BAD_JSON;
    }
    *out = v;
    return API_E_OK;
}

api_error json_get_string(const json_t *obj, const char *key, bool required, api_error bad,
                           const char **s, size_t *len) {
    const json_t *v = json_object_get(obj, key);
    *s = NULL;
    *len = 0;
    if (!v || (!required && json_is_null(v))) return required ? bad : API_E_OK;
    if (!json_is_string(v)) return bad;
    *s = json_string_value(v);
    *len = json_string_length(v);
    return API_E_OK;
}

/* Worst case of one escaped byte: "\u001F". */
#define ESCAPED_MAX 6

#define BYTES_OF(c) (0x0101010101010101ULL * (unsigned char)(c))
#define HIGH_BITS BYTES_OF(0x80)

/* Whether none of the eight bytes of w needs escaping (a control
 * character, '"' or '\\'): the usual "has a zero / smaller byte" tricks. */
static bool plain_word(uint64_t w) {
    uint64_t quote = w ^ BYTES_OF('"'), backslash = w ^ BYTES_OF('\\');
    uint64_t control = (w - BYTES_OF(0x20)) & ~w;
    uint64_t special = ((quote - BYTES_OF(1)) & ~quote) | ((backslash - BYTES_OF(1)) & ~backslash);
    return ((control | special) & HIGH_BITS) == 0;
}

static const char *skip_space(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

/* Reads the string at p (its opening quote) when it holds no escape and no
 * control character and is valid UTF-8; returns what follows its closing
 * quote, or NULL. ASCII runs are checked eight bytes at a time. */
static const char *plain_string(const char *p, const char *end, const char **s, size_t *len) {
    if (p == end || *p != '"') return NULL;
    const char *start = ++p;
    bool ascii = true;
    for (;;) {
        uint64_t word;
        while (end - p >= 8 && (memcpy(&word, p, 8), plain_word(word) && !(word & HIGH_BITS)))
            p += 8;
        if (p == end) return NULL;
        unsigned char c = (unsigned char)*p;
        if (c == '"') break;
        if (c < 0x20 || c == '\\') return NULL;
        if (c >= 0x80) ascii = false;
        p++;
    }
    if (!ascii && !utf8_valid(start, (size_t)(p - start), NULL)) return NULL;
    *s = start;
    *len = (size_t)(p - start);
    return p + 1;
}

static bool same_key(const struct json_plain_member *a, const struct json_plain_member *b) {
    return a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0;
}

int json_scan_plain_object(const char *body, size_t len, struct json_plain_member *out, int max) {
    const char *p = skip_space(body, body + len), *end = body + len;
    int n = 0;
    if (p == end || *p != '{') return -1;
    p = skip_space(p + 1, end);
    if (p < end && *p == '}') {
        p++;
    } else {
        for (;;) {
            if (n == max) return -1;
            struct json_plain_member *m = &out[n];
            if (!(p = plain_string(p, end, &m->key, &m->key_len))) return -1;
            p = skip_space(p, end);
            if (p == end || *p != ':') return -1;
            p = skip_space(p + 1, end);
            if (!(p = plain_string(p, end, &m->value, &m->value_len))) return -1;
            for (int i = 0; i < n; i++)
                if (same_key(&out[i], m)) return -1; /* jansson refuses duplicates */
            n++;
            p = skip_space(p, end);
            if (p == end || (*p != ',' && *p != '}')) return -1;
            if (*p++ == '}') break;
            p = skip_space(p, end);
        }
    }
    return skip_space(p, end) == end ? n : -1;
}

/* Writes s[0..len) as a quoted JSON string into out, escaped as jansson's
 * compact output does; returns the bytes written (at most len * 6 + 2), or
 * 0 when s is not valid UTF-8. Runs of plain bytes are copied eight at a
 * time; the UTF-8 check runs only for a string with a byte above 0x7F. */
static size_t escape_into(char *out, const char *s, size_t len) {
    static const char hex[] = "0123456789ABCDEF";
    char *o = out;
    uint64_t seen = 0; /* every byte copied as it is, or-ed together */
    *o++ = '"';
    for (size_t i = 0; i < len; i++) {
        uint64_t word;
        while (len - i >= 8 && (memcpy(&word, s + i, 8), plain_word(word))) {
            memcpy(o, s + i, 8);
            seen |= word;
            o += 8;
            i += 8;
        }
        if (i == len) break;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            seen |= c;
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            memcpy(o, "u00", 3);
            o[3] = hex[c >> 4];
            o[4] = hex[c & 15];
            o += 5;
        }
    }
    if ((seen & HIGH_BITS) && !utf8_valid(s, len, NULL)) return 0;
    *o++ = '"';
    return (size_t)(o - out);
}

static char *put_literal(char *p, const char *s) {
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

/* A message's string lengths, and the most bytes it can take encoded
 * (every byte escaped), a separator included. */
struct message_size {
    size_t id, user, name, cap;
    size_t event, target, role; /* a room event's, else 0 */
    size_t reply, quote_name;   /* a reply's, else 0 */
};

static struct message_size message_size(const struct message *m) {
    struct message_size z = {strlen(m->id), strlen(m->user_id), strlen(m->name), 0, 0, 0, 0, 0, 0};
    if (m->event) {
        z.event = strlen(m->event);
        z.target = m->target ? strlen(m->target) : 0;
        z.role = m->role ? strlen(m->role) : 0;
    }
    if (m->reply_to) {
        z.reply = strlen(m->reply_to);
        z.quote_name = m->quote_name ? strlen(m->quote_name) : 0;
    }
    z.cap = (z.id + z.user + z.name + m->text_len + z.event + z.target + z.role + z.reply +
             z.quote_name + (m->reply_to ? m->quote_len : 0)) *
                ESCAPED_MAX +
            200;
    /* each "<emoji> <count>" pair: its emoji escaped, its count, and
     * {"emoji":,"count":,"me":false} around them */
    if (m->reactions) z.cap += m->reactions_len * (ESCAPED_MAX + 40) + 16;
    return z;
}

/* Writes a room event's own fields at p (docs/API.md, "Room events"). */
static char *put_event(char *p, const struct message *m, const struct message_size *z) {
    size_t n;
    p = put_literal(p, ",\"event\":");
    if (!(n = escape_into(p, m->event, z->event))) return NULL;
    p = put_literal(p + n, ",\"target\":");
    if (!(n = escape_into(p, m->target ? m->target : "", z->target))) return NULL;
    p = put_literal(p + n, ",\"role\":");
    if (!(n = escape_into(p, m->role ? m->role : "", z->role))) return NULL;
    p += n;
    if (m->action) { /* a reaction: which change, and the emoji (its text) */
        p = put_literal(p, strcmp(m->action, "removed") == 0 ? ",\"action\":\"removed\""
                                                             : ",\"action\":\"added\"");
        p = put_literal(p, ",\"emoji\":");
        if (!(n = escape_into(p, m->text, m->text_len))) return NULL;
        p += n;
    }
    return p;
}

/* Writes a reply's quote at p (docs/API.md, "Replies"). */
static char *put_reply(char *p, const struct message *m, const struct message_size *z) {
    size_t n;
    p = put_literal(p, ",\"replyTo\":{\"id\":");
    if (!(n = escape_into(p, m->reply_to, z->reply))) return NULL;
    p = put_literal(p + n, ",\"name\":");
    if (!(n = escape_into(p, m->quote_name ? m->quote_name : "", z->quote_name))) return NULL;
    p = put_literal(p + n, ",\"text\":");
    if (!(n = escape_into(p, m->quote_text ? m->quote_text : "", m->quote_len))) return NULL;
    *(p += n) = '}';
    return p + 1;
}

/* Whether the space-separated list mine[0..len) holds the word w. */
static bool list_has(const char *mine, size_t len, const char *w, size_t wlen) {
    for (size_t i = 0; i + wlen <= len;) {
        const char *sp = memchr(mine + i, ' ', len - i);
        size_t end = sp ? (size_t)(sp - mine) : len;
        if (end - i == wlen && memcmp(mine + i, w, wlen) == 0) return true;
        i = end + 1;
    }
    return false;
}

/* Writes the reactions of a history page's message at p: each stored
 * "<emoji> <count>" pair as {"emoji","count","me"}; a malformed pair ends
 * the list. */
static char *put_reactions(char *p, const struct message *m) {
    const char *s = m->reactions, *end = m->reactions + m->reactions_len;
    p = put_literal(p, ",\"reactions\":[");
    for (bool first = true; s < end; first = false) {
        const char *sp = memchr(s, ' ', (size_t)(end - s));
        if (!sp || sp == s) break;
        long long count = 0;
        const char *d = sp + 1;
        for (; d < end && *d >= '0' && *d <= '9' && d - sp < 12; d++) count = count * 10 + (*d - '0');
        if (d == sp + 1) break;
        size_t n;
        p = put_literal(p, first ? "{\"emoji\":" : ",{\"emoji\":");
        if (!(n = escape_into(p, s, (size_t)(sp - s)))) return NULL;
        p = numfmt_decimal(put_literal(p + n, ",\"count\":"), count);
        p = put_literal(p, list_has(m->mine ? m->mine : "", m->mine_len, s, (size_t)(sp - s))
                               ? ",\"me\":true}"
                               : ",\"me\":false}");
        s = d + 1;
    }
    *p++ = ']';
    return p;
}

/* Writes m at p; returns the end, or NULL when a string is not valid UTF-8. */
static char *put_message(char *p, const struct message *m, const struct message_size *z) {
    size_t n;
    p = put_literal(p, "{\"id\":");
    if (!(n = escape_into(p, m->id, z->id))) return NULL;
    p = put_literal(p + n, ",\"userId\":");
    if (!(n = escape_into(p, m->user_id, z->user))) return NULL;
    p = put_literal(p + n, ",\"name\":");
    if (!(n = escape_into(p, m->name, z->name))) return NULL;
    p = put_literal(p + n, ",\"text\":");
    if (!(n = escape_into(p, m->text, m->text_len))) return NULL;
    p = put_literal(p + n, ",\"timestamp\":");
    p = numfmt_decimal(p, m->timestamp);
    if (m->edited > 0) p = numfmt_decimal(put_literal(p, ",\"edited\":"), m->edited);
    if (m->reply_to && !(p = put_reply(p, m, z))) return NULL;
    if (m->reactions && !(p = put_reactions(p, m))) return NULL;
    if (m->event && !(p = put_event(p, m, z))) return NULL;
    *p++ = '}';
    return p;
}

/* Encoded by hand, straight into the buffer: this runs for every message of
 * every history page, where jansson's object building and many small writes
 * cost more than the rest of the request. */
int json_message_append(struct evbuffer *out, const struct message *m) {
    struct message_size z = message_size(m);
    struct evbuffer_iovec v;
    if (evbuffer_reserve_space(out, (ev_ssize_t)z.cap, &v, 1) < 1) return -1;
    char *end = put_message(v.iov_base, m, &z);
    if (!end) return -1; /* nothing committed: nothing appended */
    v.iov_len = (size_t)(end - (char *)v.iov_base);
    return evbuffer_commit_space(out, &v, 1);
}

/* Space reserved at a time by json_messages_append: many messages per
 * reservation, without holding much more than a page's worth. */
#define LIST_RESERVE 16384

/* Commits the reserved space v up to end. */
static int commit_to(struct evbuffer *out, struct evbuffer_iovec *v, const char *end) {
    v->iov_len = (size_t)(end - (const char *)v->iov_base);
    return evbuffer_commit_space(out, v, 1);
}

int json_message_event_append(struct evbuffer *out, const struct message *m) {
    struct message_size z = message_size(m);
    struct evbuffer_iovec v;
    size_t cap = z.cap + z.id + sizeof("id: \ndata: \n\n");
    if (evbuffer_reserve_space(out, (ev_ssize_t)cap, &v, 1) < 1) return -1;
    char *p = put_literal(v.iov_base, "id: ");
    memcpy(p, m->id, z.id);
    p = put_literal(p + z.id, "\ndata: ");
    if (!(p = put_message(p, m, &z))) return -1; /* nothing committed: nothing appended */
    return commit_to(out, &v, put_literal(p, "\n\n"));
}

int json_messages_append(struct evbuffer *out, const struct message *msgs, size_t n,
                         char before_first) {
    struct evbuffer_iovec v;
    char *p = NULL;  /* where the next message goes, once space is reserved */
    size_t room = 0; /* bytes reserved from p on */
    int appended = 0;
    for (size_t i = 0; i < n; i++) {
        struct message_size z = message_size(&msgs[i]);
        if (!p || room < z.cap) {
            if (p && commit_to(out, &v, p) < 0) return -1;
            size_t want = z.cap > LIST_RESERVE ? z.cap : LIST_RESERVE;
            if (evbuffer_reserve_space(out, (ev_ssize_t)want, &v, 1) < 1) return -1;
            p = v.iov_base;
            room = v.iov_len;
        }
        char *start = p;
        if (appended) *p++ = ',';
        else if (before_first) *p++ = before_first;
        if (!(p = put_message(p, &msgs[i], &z))) {
            log_warn("msg=\"message left out: not valid UTF-8\" id=%s", msgs[i].id);
            p = start;
            continue;
        }
        appended++;
        room -= (size_t)(p - start);
    }
    if (p && commit_to(out, &v, p) < 0) return -1;
    return appended;
}

int json_message_array_append(struct evbuffer *out, const struct message *msgs, size_t n) {
    int appended = json_messages_append(out, msgs, n, '[');
    if (appended < 0) return -1;
    return evbuffer_add(out, appended ? "]" : "[]", appended ? 1 : 2);
}

static int dump_to_evbuffer(const char *buf, size_t size, void *data) {
    return evbuffer_add(data, buf, size);
}

int json_append(struct evbuffer *out, const json_t *value) {
    return json_dump_callback(value, dump_to_evbuffer, out, JSON_COMPACT);
}

int json_error_append(struct evbuffer *out, api_error e, const char *message) {
    json_t *v = json_pack("{s:{s:s, s:s}}", "error", "code", api_error_code(e), "message",
                          message ? message : api_error_message(e));
    if (!v) return -1;
    int rc = json_append(out, v);
    json_decref(v);
    return rc;
}
