/*
 * ephemeral: the ephemeral signals of a room (typing, presence) as they travel
 * on the room's doorbell channel (store_doorbell.h). A ring is the empty
 * payload; a signal is "<kind> <json object>", published with SPUBLISH on
 * the same shard channel, so every chatd that follows the room hears it on
 * the subscriber connection it already has. Signals never enter the room's
 * stream: they have no id and are never replayed. Pure: no I/O.
 */
#ifndef CHAT_EPHEMERAL_H
#define CHAT_EPHEMERAL_H

#include <stddef.h>

enum ephemeral_kind {
    EPHEMERAL_NONE,     /* not a signal: unknown kind or malformed */
    EPHEMERAL_TYPING,   /* {"room","userId","name","expiresIn"[,"stopped"]} */
    EPHEMERAL_PRESENCE, /* {"count","joined":[{"userId","name"}],"left":[{"userId"}]} */
};

/* Milliseconds after which a client drops a typing indicator that was not
 * renewed (docs/API.md). */
#define EPHEMERAL_TYPING_EXPIRES_MS 6000

/* The event name of kind on the wire ("typing", "presence"), NULL for
 * EPHEMERAL_NONE. */
const char *ephemeral_kind_name(enum ephemeral_kind kind);

/* Reads payload (len bytes, not NUL-terminated): its kind, and where its
 * JSON begins (*data, *data_len). EPHEMERAL_NONE for anything else. */
enum ephemeral_kind ephemeral_parse(const char *payload, size_t len, const char **data,
                              size_t *data_len);

#endif
