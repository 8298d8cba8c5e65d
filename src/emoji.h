/*
 * emoji: the forms a reaction may take (docs/API.md, "Reactions"). Pure
 * (no I/O), unit-tested and fuzzed. A reaction is one emoji: 1 to
 * CHAT_EMOJI_MAX_BYTES bytes of UTF-8 that start with a pictographic code
 * point (or a keycap base 0-9 # * followed by U+20E3), and go on only with
 * what emoji sequences are made of: pictographs, regional indicators, skin
 * tones, U+200D (zero-width joiner), U+FE0F (emoji presentation), U+20E3
 * (keycap) and tag characters (subdivision flags).
 */
#ifndef CHAT_EMOJI_H
#define CHAT_EMOJI_H

#include <stdbool.h>
#include <stddef.h>

#define CHAT_EMOJI_MAX_BYTES 32 /* a family or a subdivision flag fits (25, 28) */
#define CHAT_EMOJI_MAX_CHARS 10 /* code points in one emoji sequence */

/* Whether s[0..len) is one reaction emoji as described above. */
bool emoji_valid(const char *s, size_t len);

#endif
