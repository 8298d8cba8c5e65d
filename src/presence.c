/* presence: this chatd's users per room and their heartbeats, see presence.h. */
#include "presence.h"

#include <event2/event.h>
#include <search.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "message.h"
#include "store_presence.h"

struct proom;

/* A user with streams in a room on this chatd (or whose leave is due). */
struct puser {
    char id[CHAT_USER_ID_LEN + 1]; /* first: the room's tree key */
    char name[CHAT_NAME_MAX_BYTES + 1];
    int streams;         /* open streams of the user in the room here */
    bool announced;      /* sent to Redis as present */
    bool dirty;          /* on the room's list of changes */
    struct puser *next_dirty;
    struct puser *prev, *next;
};

/* A room with such users. */
struct proom {
    char name[CHAT_ROOM_MAX + 1]; /* first: the tree key */
    void *by_id;                  /* tsearch tree of the users' ids */
    struct puser *users;
    struct puser *changes;        /* users whose join or leave is due */
    bool dirty;                   /* on the list of rooms with changes */
    struct proom *next_dirty;
    struct proom *prev, *next;
};

struct presence {
    struct store *store;
    int ttl_ms;
    char node[17];               /* this process's id in Redis's entries */
    void *by_name;               /* tsearch tree of the rooms' names */
    struct proom *rooms;
    struct proom *changed;       /* rooms with changes */
    struct event *flush_ev;      /* sends the changes */
    struct event *beat_ev;       /* renews every entry */
};

static int key_compare(const void *a, const void *b) { return strcmp(a, b); }

static void on_updated(enum store_status st, long long count, void *arg) {
    (void)count, (void)arg;
    if (st != STORE_OK) log_warn("msg=\"presence update failed\" status=%d", (int)st);
}

/* One script for room with the pairs and ids given. */
static void send_batch(struct presence *p, const char *room, const char **present,
                       size_t npresent, const char **gone, size_t ngone) {
    struct store_presence_batch b = {room, p->node, 0, p->ttl_ms, present, npresent, gone, ngone};
    if (store_presence_update(p->store, &b, on_updated, NULL) < 0)
        log_warn("msg=\"presence update not sent\" room=%s", room);
}

static struct proom *room_find(struct presence *p, const char *name) {
    char *const *found = tfind(name, &p->by_name, key_compare);
    return found ? (struct proom *)(void *)*found : NULL;
}

static void user_free(struct proom *rm, struct puser *u) {
    tdelete(u->id, &rm->by_id, key_compare);
    if (u->prev) u->prev->next = u->next;
    else rm->users = u->next;
    if (u->next) u->next->prev = u->prev;
    free(u);
}

static void room_free_if_empty(struct presence *p, struct proom *rm) {
    if (rm->users || rm->dirty) return;
    tdelete(rm->name, &p->by_name, key_compare);
    if (rm->prev) rm->prev->next = rm->next;
    else p->rooms = rm->next;
    if (rm->next) rm->next->prev = rm->prev;
    free(rm);
}

/* Sends a room's due joins and leaves (in batches) and forgets the users
 * that left. */
static void flush_room(struct presence *p, struct proom *rm) {
    const char *present[2 * PRESENCE_BATCH_MAX], *gone[PRESENCE_BATCH_MAX];
    size_t np = 0, ng = 0;
    struct puser *u = rm->changes, *next;
    rm->changes = NULL;
    for (; u; u = next) {
        next = u->next_dirty;
        u->dirty = false;
        if (u->streams > 0 && !u->announced) {
            present[2 * np] = u->id, present[2 * np + 1] = u->name;
            np++;
            u->announced = true;
        } else if (u->streams == 0 && u->announced) {
            gone[ng++] = u->id;
        }
        if (np == PRESENCE_BATCH_MAX || ng == PRESENCE_BATCH_MAX || !next) {
            if (np + ng) send_batch(p, rm->name, present, np, gone, ng);
            np = ng = 0;
        }
    }
    for (u = rm->users; u; u = next) { /* the ids above are sent: free the gone */
        next = u->next;
        if (u->streams == 0 && !u->dirty) user_free(rm, u);
    }
}

static void on_flush(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct presence *p = arg;
    struct proom *rm = p->changed, *next;
    p->changed = NULL;
    for (; rm; rm = next) {
        next = rm->next_dirty;
        rm->dirty = false;
        flush_room(p, rm);
        room_free_if_empty(p, rm);
    }
}

/* Renews the entries of every user present here, room by room. */
static void on_beat(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct presence *p = arg;
    const char *present[2 * PRESENCE_BATCH_MAX];
    for (struct proom *rm = p->rooms; rm; rm = rm->next) {
        size_t np = 0;
        for (struct puser *u = rm->users; u; u = u->next) {
            if (u->streams == 0) continue;
            present[2 * np] = u->id, present[2 * np + 1] = u->name;
            u->announced = true;
            if (++np == PRESENCE_BATCH_MAX) {
                send_batch(p, rm->name, present, np, NULL, 0);
                np = 0;
            }
        }
        if (np) send_batch(p, rm->name, present, np, NULL, 0);
    }
}

/* Puts u on its room's changes, and the room on the server's. */
static void mark(struct presence *p, struct proom *rm, struct puser *u) {
    if (!u->dirty) {
        u->dirty = true;
        u->next_dirty = rm->changes;
        rm->changes = u;
    }
    if (!rm->dirty) {
        rm->dirty = true;
        rm->next_dirty = p->changed;
        p->changed = rm;
    }
    if (!evtimer_pending(p->flush_ev, NULL)) {
        struct timeval tv = {0, PRESENCE_FLUSH_MS * 1000};
        evtimer_add(p->flush_ev, &tv);
    }
}

static struct proom *room_get(struct presence *p, const char *name) {
    struct proom *rm = room_find(p, name);
    if (rm || strlen(name) > CHAT_ROOM_MAX || !(rm = calloc(1, sizeof(*rm)))) return rm;
    memcpy(rm->name, name, strlen(name) + 1);
    if (!tsearch(rm->name, &p->by_name, key_compare)) {
        free(rm);
        return NULL;
    }
    rm->next = p->rooms;
    if (p->rooms) p->rooms->prev = rm;
    p->rooms = rm;
    return rm;
}

static struct puser *user_get(struct proom *rm, const char *id, const char *name) {
    char *const *found = tfind(id, &rm->by_id, key_compare);
    if (found) return (struct puser *)(void *)*found;
    struct puser *u = strlen(id) <= CHAT_USER_ID_LEN ? calloc(1, sizeof(*u)) : NULL;
    if (!u) return NULL;
    memcpy(u->id, id, strlen(id) + 1);
    snprintf(u->name, sizeof(u->name), "%s", name);
    if (!tsearch(u->id, &rm->by_id, key_compare)) {
        free(u);
        return NULL;
    }
    u->next = rm->users;
    if (rm->users) rm->users->prev = u;
    rm->users = u;
    return u;
}

void presence_enter(struct presence *p, const char *room, const char *user_id, const char *name) {
    struct proom *rm = p ? room_get(p, room) : NULL;
    struct puser *u = rm ? user_get(rm, user_id, name) : NULL;
    if (!u) {
        if (rm) room_free_if_empty(p, rm);
        return;
    }
    if (u->streams++ == 0) mark(p, rm, u);
}

void presence_leave(struct presence *p, const char *room, const char *user_id) {
    struct proom *rm = p ? room_find(p, room) : NULL;
    char *const *found = rm ? tfind(user_id, &rm->by_id, key_compare) : NULL;
    if (!found) return;
    struct puser *u = (struct puser *)(void *)*found;
    if (u->streams > 0 && --u->streams == 0) mark(p, rm, u);
}

struct presence *presence_new(struct event_base *base, struct store *store, int ttl_ms) {
    struct presence *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->store = store;
    p->ttl_ms = ttl_ms;
    unsigned char id[8];
    randombytes_buf(id, sizeof(id));
    sodium_bin2hex(p->node, sizeof(p->node), id, sizeof(id));
    p->flush_ev = evtimer_new(base, on_flush, p);
    p->beat_ev = event_new(base, -1, EV_PERSIST, on_beat, p);
    int beat_ms = ttl_ms / 3;
    struct timeval tv = {beat_ms / 1000, (beat_ms % 1000) * 1000};
    if (!p->flush_ev || !p->beat_ev || event_add(p->beat_ev, &tv) < 0) {
        presence_free(p);
        return NULL;
    }
    return p;
}

void presence_free(struct presence *p) {
    if (!p) return;
    if (p->flush_ev) event_free(p->flush_ev);
    if (p->beat_ev) event_free(p->beat_ev);
    struct proom *rm, *next;
    for (rm = p->rooms; rm; rm = next) {
        next = rm->next;
        while (rm->users) user_free(rm, rm->users);
        tdelete(rm->name, &p->by_name, key_compare);
        free(rm);
    }
    free(p);
}
