/* stream_rooms: rooms and positions of a multi-room stream, see stream_rooms.h. */
#include "stream_rooms.h"

#include <stdbool.h>
#include <string.h>

/* Copies the item of s up to the next sep (or the end) into out[size];
 * false when it does not fit. Moves *s past the item (not past sep). */
static bool take_item(const char **s, char sep, char *out, size_t size) {
    const char *end = strchr(*s, sep);
    size_t len = end ? (size_t)(end - *s) : strlen(*s);
    if (len >= size) return false;
    memcpy(out, *s, len);
    out[len] = '\0';
    *s += len;
    return true;
}

static int find_room(const struct stream_room *rooms, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(rooms[i].name, name) == 0) return i;
    return -1;
}

int stream_rooms_parse(const char *list, struct stream_room *rooms, int max) {
    int n = 0;
    if (!list || !*list) return STREAM_ROOMS_BAD_LIST;
    for (const char *s = list;; s++) {
        char name[CHAT_ROOM_MAX + 2];
        if (!take_item(&s, ',', name, sizeof(name)) || !validate_room_name(name))
            return STREAM_ROOMS_BAD_NAME;
        if (n == max || find_room(rooms, n, name) >= 0) return STREAM_ROOMS_BAD_LIST;
        memcpy(rooms[n].name, name, strlen(name) + 1);
        rooms[n++].id[0] = '\0';
        if (*s != ',') return n;
    }
}

/* Reads one "room:id" pair at *s into name and id; false when malformed. */
static bool take_pair(const char **s, char name[CHAT_ROOM_MAX + 1],
                      char id[CHAT_STREAM_ID_MAX + 1]) {
    if (!take_item(s, ':', name, CHAT_ROOM_MAX + 1) || **s != ':' || !validate_room_name(name))
        return false;
    (*s)++;
    return take_item(s, ',', id, CHAT_STREAM_ID_MAX + 1) && validate_stream_id(id);
}

/* Checks position; true when every pair is well-formed. */
static bool position_valid(const char *position) {
    for (const char *s = position;; s++) {
        char name[CHAT_ROOM_MAX + 1], id[CHAT_STREAM_ID_MAX + 1];
        if (!take_pair(&s, name, id)) return false;
        if (*s != ',') return true;
    }
}

int stream_rooms_set_position(const char *position, struct stream_room *rooms, int n) {
    if (!position || !position_valid(position)) return -1;
    for (const char *s = position;; s++) {
        char name[CHAT_ROOM_MAX + 1], id[CHAT_STREAM_ID_MAX + 1];
        take_pair(&s, name, id);
        int i = find_room(rooms, n, name);
        if (i >= 0) memcpy(rooms[i].id, id, strlen(id) + 1);
        if (*s != ',') return 0;
    }
}

size_t stream_rooms_position(const struct stream_room *rooms, int n, char *out, size_t size) {
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (!rooms[i].id[0]) continue;
        size_t name_len = strlen(rooms[i].name), id_len = strlen(rooms[i].id);
        size_t need = (len ? 1 : 0) + name_len + 1 + id_len;
        if (len + need >= size) break;
        if (len) out[len++] = ',';
        memcpy(out + len, rooms[i].name, name_len);
        out[len + name_len] = ':';
        memcpy(out + len + name_len + 1, rooms[i].id, id_len + 1);
        len += name_len + 1 + id_len;
    }
    return len;
}
