/*
 * cluster_map: the client's picture of a Redis Cluster, and the parsers for
 * the cluster's redirect and retry errors. Pure: no I/O, no clock, no logging.
 *
 * Contract:
 * - A cluster_map holds a node table (host:port entries) and, for each of the
 *   SLOT_COUNT hash slots, the index of the master node serving it or
 *   CLUSTER_NODE_NONE. Masters also know their replicas.
 * - Node indices are stable for the lifetime of the map: a node, once added,
 *   keeps its index and is never removed, so callers may key their connection
 *   pools by index. A node the cluster no longer lists keeps its entry with
 *   role CLUSTER_ROLE_NONE. A node is identified by its address (host, port).
 * - cluster_map_update() is all-or-nothing: on failure the map is unchanged.
 * - Functions return 0 (or a node index, which is >= 0) on success and a
 *   negative errno value on failure: -EINVAL for malformed input, -ENOMEM when
 *   out of memory, -ENOSPC when the node table is full.
 * - A map is not thread-safe; const functions may run concurrently with each
 *   other but not with a function that changes the map.
 * - Pointers returned by cluster_map_node() stay valid only until the next
 *   call that changes the map.
 */
#ifndef CHAT_CLUSTER_MAP_H
#define CHAT_CLUSTER_MAP_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

#include "slot.h"

/* Index meaning "no node" (an unserved slot, or a master's own master). */
#define CLUSTER_NODE_NONE (-1)
/* Most nodes a map can hold (the specification suggests at most ~1000). */
#define CLUSTER_MAP_MAX_NODES 1024
/* Room for a host name or address, including its NUL (DNS names are <= 253). */
#define CLUSTER_HOST_MAX 256
/* Length of a node id (40 hex characters), without the NUL. */
#define CLUSTER_NODE_ID_LEN 40
/* Size of the caller's error buffer for cluster_map_update(). */
#define CLUSTER_MAP_ERR_LEN 128

/* What the latest information says a node is. */
enum cluster_role {
    CLUSTER_ROLE_NONE = 0, /* not (or no longer) listed by the cluster */
    CLUSTER_ROLE_MASTER,   /* serves at least one slot range */
    CLUSTER_ROLE_REPLICA   /* replicates a master, see cluster_node.master */
};

/* One entry of the node table. Read through cluster_map_node(). */
struct cluster_node {
    char host[CLUSTER_HOST_MAX];      /* address to connect to, never empty */
    int port;                         /* TCP port, 1 .. 65535 */
    char id[CLUSTER_NODE_ID_LEN + 1]; /* node id, "" until a CLUSTER SLOTS reply names it */
    enum cluster_role role;           /* role as of the latest update */
    int master;                       /* a replica's master index, else CLUSTER_NODE_NONE */
};

/* Opaque: the node table and the slot-to-master table. */
struct cluster_map;

/* Returns a new map with no nodes and no slot served, or NULL when out of memory. */
struct cluster_map *cluster_map_new(void);

/* Frees the map. NULL is allowed. */
void cluster_map_free(struct cluster_map *map);

/*
 * Replaces the slot assignment with the one in reply, the answer to CLUSTER
 * SLOTS (RESP2 as hiredis 0.14 parses it): an array of entries
 * [start, end, master, replica...], each node being [host, port, id, ...].
 * Elements after the id (e.g. Redis 7's metadata map) are ignored; the id may
 * be missing (before Redis 4). Slots no entry covers become unserved. A host
 * that is NULL, "" or "?" means the node's address is unknown to the cluster
 * and fallback_host (the host used to reach the node that answered) is used
 * instead; fallback_host may be NULL when no such host is expected.
 *
 * Nodes not seen before are appended, known nodes keep their index, and every
 * node's role and master are recomputed. Returns 0, or a negative errno value
 * with a message in err (CLUSTER_MAP_ERR_LEN bytes, may be NULL); on failure
 * the map is left exactly as it was. An error reply (REDIS_REPLY_ERROR) fails
 * with its text in err.
 */
int cluster_map_update(struct cluster_map *map, const redisReply *reply, const char *fallback_host,
                       char *err);

/*
 * Records that slot is now served by the master at host:port, as a MOVED
 * redirect says, adding the node if it is new and marking it master (a
 * promoted replica loses its link to its old master). Other slots are not
 * touched: after a MOVED the caller should also schedule a full refresh with
 * cluster_map_update(). host must not be empty (resolve MOVED's empty host to
 * the address of the node that sent it first). Returns the node's index, or
 * -EINVAL (bad slot, host or port) or -ENOSPC / -ENOMEM.
 */
int cluster_map_set_slot(struct cluster_map *map, unsigned slot, const char *host, int port);

/* The index of the master serving slot, or CLUSTER_NODE_NONE (also for slot >= SLOT_COUNT). */
int cluster_map_master(const struct cluster_map *map, unsigned slot);

/*
 * Stores the indices of up to max replicas of slot's master into out (may be
 * NULL when max is 0) and returns how many replicas it has, like snprintf:
 * a result larger than max means out was too small. 0 for an unserved slot.
 */
size_t cluster_map_replicas(const struct cluster_map *map, unsigned slot, int *out, size_t max);

/*
 * The replica acknowledgements a durable write sent to the master at index
 * node needs: min_acks, but never more than the replicas the latest update
 * lists for that master. Redis leaves replicas flagged FAIL out of CLUSTER
 * SLOTS, so after a failover the promoted master, whose old master is cut off,
 * needs none until a replica is back; a replica that is merely unreachable
 * (PFAIL, or not yet noticed) still counts. 0 when min_acks <= 0; min_acks
 * when the map does not know node as a master (nothing is known about its
 * replicas, so the strict rule holds).
 */
int cluster_map_required_acks(const struct cluster_map *map, int node, int min_acks);

/* The node at index, or NULL when index is out of range. See the contract on lifetime. */
const struct cluster_node *cluster_map_node(const struct cluster_map *map, int index);

/* Number of entries in the node table (valid indices are 0 .. count - 1). */
size_t cluster_map_node_count(const struct cluster_map *map);

/* The index of the node at host:port, or CLUSTER_NODE_NONE. */
int cluster_map_find(const struct cluster_map *map, const char *host, int port);

/* How many slots have a master; SLOT_COUNT when the whole key space is served. */
size_t cluster_map_slots_served(const struct cluster_map *map);

/* Kind of a redirect error. */
enum cluster_redirect_kind {
    CLUSTER_REDIRECT_MOVED = 1, /* the slot has a new owner: update the map, resend there */
    CLUSTER_REDIRECT_ASK        /* slot migrating: send ASKING then the command there, once */
};

/* A parsed "MOVED <slot> <host>:<port>" or "ASK <slot> <host>:<port>" error. */
struct cluster_redirect {
    enum cluster_redirect_kind kind; /* MOVED or ASK */
    unsigned slot;                   /* 0 .. SLOT_COUNT - 1 */
    char host[CLUSTER_HOST_MAX];     /* "" when the cluster does not know the endpoint:
                                        use the host of the node that answered */
    int port;                        /* 1 .. 65535 */
};

/*
 * Parses the error text of a redirect (the reply's str and len, without the
 * leading '-' of the wire format). The port follows the last ':', so IPv6
 * hosts ("::1:7000") work; "[::1]:7000" is accepted too and gives "::1". An
 * empty host (":7000") or "?" gives host "". Returns 0 and fills *out, or
 * -EINVAL when err is not a well-formed MOVED or ASK error (*out is then
 * unspecified).
 */
int cluster_redirect_parse(const char *err, size_t len, struct cluster_redirect *out);

/* Classes of cluster error replies. */
enum cluster_error_kind {
    CLUSTER_ERROR_OTHER = 0,   /* not a cluster error: hand it to the caller */
    CLUSTER_ERROR_MOVED,       /* see cluster_redirect_parse() */
    CLUSTER_ERROR_ASK,         /* see cluster_redirect_parse() */
    CLUSTER_ERROR_TRYAGAIN,    /* multi-key command during resharding: retry later */
    CLUSTER_ERROR_CLUSTERDOWN, /* cluster cannot serve (failover, slot unserved): retry later */
    CLUSTER_ERROR_LOADING      /* node loading its data set: retry later */
};

/*
 * Classifies an error reply text by its first word ("CLUSTERDOWN The cluster
 * is down" is CLUSTER_ERROR_CLUSTERDOWN). Only the prefix is checked: use
 * cluster_redirect_parse() to validate a MOVED or ASK error.
 */
enum cluster_error_kind cluster_error_classify(const char *err, size_t len);

/* True for TRYAGAIN, CLUSTERDOWN and LOADING: errors worth a later retry of the same command. */
bool cluster_error_is_retryable(const char *err, size_t len);

#endif
