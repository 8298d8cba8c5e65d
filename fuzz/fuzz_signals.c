/*
 * fuzz_signals: any bytes as a payload on a room's doorbell channel (what
 * Redis pushes to every chatd following the room) into the signal parser
 * (src/ephemeral.c) and, for a presence signal, into the merge of presence
 * signals (src/presence_merge.c), twice in a row. A signal's data must lie
 * inside the payload and start its JSON object; a merged event must be a
 * JSON object naming the room, with an integer count, and either lists of
 * changed users or only how many changed.
 */
#include <jansson.h>

#include "ephemeral.h"
#include "fuzz.h"
#include "presence_merge.h"

static void check_event(char *text) {
    FUZZ_ASSERT(text);
    json_t *ev = json_loads(text, 0, NULL);
    FUZZ_ASSERT(json_is_object(ev));
    FUZZ_ASSERT(json_is_string(json_object_get(ev, "room")));
    FUZZ_ASSERT(json_is_integer(json_object_get(ev, "count")));
    bool lists = json_is_array(json_object_get(ev, "joined")) &&
                 json_is_array(json_object_get(ev, "left"));
    FUZZ_ASSERT(lists != json_is_integer(json_object_get(ev, "changes")));
    json_decref(ev);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *payload = (const char *)data, *json = NULL;
    size_t len = 0;
    enum ephemeral_kind kind = ephemeral_parse(payload, size, &json, &len);
    if (kind == EPHEMERAL_NONE) return 0;
    FUZZ_ASSERT(json > payload && json + len == payload + size && json[0] == '{');
    FUZZ_ASSERT(ephemeral_kind_name(kind) != NULL);
    if (kind != EPHEMERAL_PRESENCE) return 0;
    struct presence_merge *m = presence_merge_new();
    FUZZ_ASSERT(m);
    for (int round = 0; round < 2; round++) {
        if (presence_merge_add(m, json, len) < 0) break; /* the same bytes fail again */
        FUZZ_ASSERT(presence_merge_pending(m));
        check_event(presence_merge_take(m, "fuzz"));
        FUZZ_ASSERT(!presence_merge_pending(m));
    }
    presence_merge_free(m);
    return 0;
}
