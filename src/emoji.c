/* emoji: the forms a reaction may take, see emoji.h. */
#include "emoji.h"

#include <stdint.h>

#include "validate.h"

/* Decodes the code point at s[*i] of well-formed UTF-8 and steps past it. */
static uint32_t next_code_point(const unsigned char *s, size_t *i) {
    uint32_t c = s[*i];
    int extra = c < 0x80 ? 0 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;
    if (extra) c &= 0x3F >> extra;
    for (int k = 0; k < extra; k++) c = (c << 6) | (s[*i + 1 + (size_t)k] & 0x3F);
    *i += (size_t)extra + 1;
    return c;
}

/* Pictographs: the blocks emoji come from. */
static bool pictographic(uint32_t c) {
    return c == 0xA9 || c == 0xAE || c == 0x203C || c == 0x2049 || c == 0x2122 ||
           c == 0x2139 || (c >= 0x2194 && c <= 0x21AA) || (c >= 0x231A && c <= 0x23FF) ||
           c == 0x24C2 || (c >= 0x25AA && c <= 0x25FE) || (c >= 0x2600 && c <= 0x27BF) ||
           (c >= 0x2934 && c <= 0x2935) || (c >= 0x2B05 && c <= 0x2B55) || c == 0x3030 ||
           c == 0x303D || c == 0x3297 || c == 0x3299 || (c >= 0x1F000 && c <= 0x1FAFF);
}

static bool skin_tone(uint32_t c) { return c >= 0x1F3FB && c <= 0x1F3FF; }
static bool regional(uint32_t c) { return c >= 0x1F1E6 && c <= 0x1F1FF; }
static bool tag(uint32_t c) { return c >= 0xE0020 && c <= 0xE007F; }
static bool keycap_base(uint32_t c) { return (c >= '0' && c <= '9') || c == '#' || c == '*'; }

/* Whether c may follow prev inside the sequence that starts with first
 * (the n-th code point, counting from 0): presentation selectors, keycaps,
 * skin tones and tags after anything; a second pictograph only after a
 * zero-width joiner, or as the second regional indicator of a flag. */
static bool may_follow(uint32_t first, uint32_t prev, uint32_t c, size_t n) {
    if (c == 0xFE0F || c == 0x20E3 || skin_tone(c) || tag(c)) return true;
    if (c == 0x200D) return prev != 0x200D;
    if (regional(c)) return n == 1 && regional(first);
    return pictographic(c) && prev == 0x200D;
}

bool emoji_valid(const char *s, size_t len) {
    size_t chars;
    if (len == 0 || len > CHAT_EMOJI_MAX_BYTES || !utf8_valid(s, len, &chars) ||
        chars > CHAT_EMOJI_MAX_CHARS)
        return false;
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    uint32_t first = next_code_point(u, &i), prev = first;
    bool keycap = keycap_base(first), capped = false;
    if (!keycap && !pictographic(first)) return false;
    for (size_t n = 1; i < len; n++) {
        uint32_t c = next_code_point(u, &i);
        if (!may_follow(first, prev, c, n) || (keycap && c != 0xFE0F && c != 0x20E3)) return false;
        capped = capped || c == 0x20E3;
        prev = c;
    }
    return prev != 0x200D && (!keycap || capped);
}
