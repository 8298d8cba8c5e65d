/*
 * addr_slots: how many of a scarce thing (open event streams, parked
 * long-polls) each client address holds, against a cap per address, so
 * that one address cannot take every slot of a chatd (pure, no I/O).
 * Addresses are the keys the limits count (http_client_address: an IPv6
 * client by its /64). An address holding nothing costs no memory.
 *
 * One table per kind of slot, owned by struct server; loop thread only.
 */
#ifndef CHAT_ADDR_SLOTS_H
#define CHAT_ADDR_SLOTS_H

#include <stdbool.h>

struct addr_slots;

/* A table allowing max slots per address (0: no cap, only counting).
 * NULL when out of memory. */
struct addr_slots *addr_slots_new(int max);
/* Frees the table; NULL is fine. */
void addr_slots_free(struct addr_slots *t);

/* Takes one slot for address: false (nothing taken) when it holds max
 * already or memory ran out. */
bool addr_slots_take(struct addr_slots *t, const char *address);
/* Gives back one slot taken for address. */
void addr_slots_release(struct addr_slots *t, const char *address);
/* The slots address holds. */
int addr_slots_held(const struct addr_slots *t, const char *address);

#endif
