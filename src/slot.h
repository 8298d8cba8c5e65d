/*
 * slot: which Redis Cluster hash slot a key belongs to.
 *
 * Pure functions, no I/O, no state, safe from any thread. They follow the
 * Redis Cluster specification: slot = CRC16/XMODEM(key) mod 16384, where only
 * the part between the first '{' and the next '}' is hashed when that part is
 * not empty ("hash tags"). Keys are byte strings: they may contain NUL bytes.
 */
#ifndef CHAT_SLOT_H
#define CHAT_SLOT_H

#include <stddef.h>
#include <stdint.h>

/* Number of hash slots in a Redis Cluster; slots are 0 .. SLOT_COUNT - 1. */
#define SLOT_COUNT 16384u

/*
 * CRC16/XMODEM (polynomial 0x1021, initial value 0, no reflection, no final
 * XOR) of len bytes at buf, as in the appendix of the cluster specification:
 * "123456789" gives 0x31C3. buf may be NULL when len is 0.
 */
uint16_t slot_crc16(const char *buf, size_t len);

/*
 * The hash slot (0 .. SLOT_COUNT - 1) of the key of len bytes at key. When the
 * key has a '{' followed later by a '}' with at least one byte between them,
 * only the bytes between the first '{' and the first '}' after it are hashed;
 * otherwise the whole key is. key may be NULL when len is 0.
 */
unsigned slot_for_key(const char *key, size_t len);

#endif
