/* ephemeral: the payloads of a room's ephemeral signals, see ephemeral.h. */
#include "ephemeral.h"

#include <string.h>

static const char *const names[] = {
    [EPHEMERAL_TYPING] = "typing",
    [EPHEMERAL_PRESENCE] = "presence",
};

const char *ephemeral_kind_name(enum ephemeral_kind kind) {
    return kind == EPHEMERAL_TYPING || kind == EPHEMERAL_PRESENCE ? names[kind] : NULL;
}

enum ephemeral_kind ephemeral_parse(const char *payload, size_t len, const char **data,
                              size_t *data_len) {
    const char *space = payload ? memchr(payload, ' ', len) : NULL;
    if (!space || space + 1 >= payload + len || space[1] != '{') return EPHEMERAL_NONE;
    size_t kind_len = (size_t)(space - payload);
    for (enum ephemeral_kind k = EPHEMERAL_TYPING; k <= EPHEMERAL_PRESENCE; k++) {
        if (strlen(names[k]) != kind_len || memcmp(names[k], payload, kind_len) != 0) continue;
        *data = space + 1;
        *data_len = len - kind_len - 1;
        return k;
    }
    return EPHEMERAL_NONE;
}
