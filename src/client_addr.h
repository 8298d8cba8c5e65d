/*
 * client_addr: which address a request comes from (pure, no I/O). It is the
 * peer's address, unless the peer is a trusted proxy (HAProxy with
 * "option forwardfor"): then it is the last address in the last
 * X-Forwarded-For header, the one that proxy appended. Addresses a client
 * put in front of it are never believed. The same trust decides whether
 * X-Forwarded-Proto says the client came over TLS.
 *
 * An IPv4 address mapped into IPv6 (::ffff:127.0.0.1, how IPv4 peers look
 * to a socket listening on "::") is written as the IPv4 address it is, for
 * the trust check and in the result. For the per-address limits, IPv6
 * clients are grouped by their /64 (client_addr_limit_key): one host
 * usually holds a whole /64 and could rotate through it freely.
 */
#ifndef CHAT_CLIENT_ADDR_H
#define CHAT_CLIENT_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#define CLIENT_ADDR_MAX 64 /* room for any IPv4 or IPv6 text form */

/* True when addr is one of the comma-separated addresses in list (mapped
 * IPv4 addresses match their IPv4 form on either side). */
bool client_addr_listed(const char *addr, const char *list);

/* Writes the client's address into out (size bytes): the last entry of
 * forwarded_for when the peer is in trusted and that entry is an IPv4 or
 * IPv6 address, else the peer. forwarded_for may be NULL. */
void client_addr_pick(const char *peer, const char *forwarded_for, const char *trusted,
                      char *out, size_t size);

/* True when the peer is in trusted and the last entry of forwarded_proto
 * (an X-Forwarded-Proto value, may be NULL) is "https": the client reached
 * that proxy over TLS. An untrusted peer's header is never believed. */
/* Writes addr into out (size bytes), an IPv4-mapped IPv6 address as the
 * IPv4 address; anything else unchanged. */
void client_addr_normalise(const char *addr, char *out, size_t size);

/* Writes the subject that per-address limits count addr (a picked client
 * address) against: an IPv6 address's /64 ("2001:db8:1:2::/64"), anything
 * else as it is. */
void client_addr_limit_key(const char *addr, char *out, size_t size);

bool client_addr_forwarded_https(const char *peer, const char *forwarded_proto,
                                 const char *trusted);

#endif
