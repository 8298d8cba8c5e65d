/* addr_slots: slots held per client address, see addr_slots.h. */
#include "addr_slots.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client_addr.h"

#define BUCKETS 4096 /* a power of two; chains stay short up to ~10^4 addresses */

/* One address that holds at least one slot. */
struct holder {
    struct holder *next;         /* the bucket's chain */
    int held;                    /* slots held, >= 1 */
    char address[CLIENT_ADDR_MAX];
};

struct addr_slots {
    int max;                          /* per address; 0: no cap */
    struct holder *buckets[BUCKETS];  /* by hash of the address */
};

/* FNV-1a */
static uint32_t hash_of(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static struct holder **find(const struct addr_slots *t, const char *address) {
    struct holder **link = (struct holder **)&t->buckets[hash_of(address) & (BUCKETS - 1)];
    while (*link && strcmp((*link)->address, address) != 0) link = &(*link)->next;
    return link;
}

struct addr_slots *addr_slots_new(int max) {
    struct addr_slots *t = calloc(1, sizeof(*t));
    if (t) t->max = max;
    return t;
}

void addr_slots_free(struct addr_slots *t) {
    if (!t) return;
    for (size_t i = 0; i < BUCKETS; i++) {
        struct holder *h = t->buckets[i], *next;
        for (; h; h = next) {
            next = h->next;
            free(h);
        }
    }
    free(t);
}

bool addr_slots_take(struct addr_slots *t, const char *address) {
    struct holder **link = find(t, address);
    if (*link) {
        if (t->max && (*link)->held >= t->max) return false;
        (*link)->held++;
        return true;
    }
    size_t len = strlen(address);
    if (len >= CLIENT_ADDR_MAX) return false;
    struct holder *h = calloc(1, sizeof(*h));
    if (!h) return false;
    h->held = 1;
    memcpy(h->address, address, len + 1);
    *link = h;
    return true;
}

void addr_slots_release(struct addr_slots *t, const char *address) {
    struct holder **link = find(t, address);
    struct holder *h = *link;
    if (!h) return;
    if (--h->held > 0) return;
    *link = h->next;
    free(h);
}

int addr_slots_held(const struct addr_slots *t, const char *address) {
    struct holder *h = *find(t, address);
    return h ? h->held : 0;
}
