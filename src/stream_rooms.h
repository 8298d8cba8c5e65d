/*
 * stream_rooms: the wire rules of an event stream that carries several
 * rooms (GET /stream?rooms=a,b), pure (no I/O): the list of rooms and the
 * stream's position, one id per room, as "a:<id>,b:<id>". The position is
 * every event's `id:`, so that the Last-Event-ID a client sends back when
 * it reconnects resumes every room of the stream at once.
 */
#ifndef CHAT_STREAM_ROOMS_H
#define CHAT_STREAM_ROOMS_H

#include <stddef.h>

#include "validate.h"

#define STREAM_ROOMS_MAX 32 /* rooms per stream */
/* The longest position: every room named with 64 characters, every id 41. */
#define STREAM_POSITION_MAX (STREAM_ROOMS_MAX * (CHAT_ROOM_MAX + CHAT_STREAM_ID_MAX + 2))

/* One room of a stream and where the stream stands in it. */
struct stream_room {
    char name[CHAT_ROOM_MAX + 1];
    char id[CHAT_STREAM_ID_MAX + 1]; /* the last id the stream holds, "" when none yet */
};

/* Why a list or a position was refused. */
enum stream_rooms_error {
    STREAM_ROOMS_BAD_NAME = -1, /* a name that is not a room name */
    STREAM_ROOMS_BAD_LIST = -2, /* empty, a room twice, or more than max */
};

/* Parses list ("a,b,c") into rooms[0..max) with empty ids. Returns the
 * number of rooms, or a stream_rooms_error. */
int stream_rooms_parse(const char *list, struct stream_room *rooms, int max);

/* Sets the ids of rooms[0..n) from position ("a:<id>,b:<id>"); pairs of
 * rooms not in the list are skipped, rooms not in the position keep their
 * id. 0, or -1 when position is not such a list (nothing is changed). */
int stream_rooms_set_position(const char *position, struct stream_room *rooms, int n);

/* Writes the position of rooms[0..n) (rooms without an id are left out)
 * into out[size], NUL-terminated. Returns its length; out of room cuts it
 * at a pair's end (size of STREAM_POSITION_MAX + 1 always fits). */
size_t stream_rooms_position(const struct stream_room *rooms, int n, char *out, size_t size);

#endif
