/*
 * chatctl_keys: "chatctl key create|list|revoke", straight on Redis. A key
 * is made here (apikey.h): its secret is printed once and never stored;
 * Redis gets the secret's hash under apikey:<id> and the id in the sorted
 * set apikeys, for the list. Revoking deletes both; chatd reads the record
 * on every call, so the key is refused on every chatd from then on. On a
 * Redis Cluster each command follows the MOVED answer to the key's master.
 * $CHATD_REDIS_USER and $CHATD_REDIS_PASSWORD authenticate, as for chatd.
 */
#include "chatctl.h"

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "apikey.h"
#include "store_keys.h"

#define REDIS_REDIRECTS_MAX 5

/* A connection to host:port ("host:port"), authenticated; NULL (said) when it fails. */
static redisContext *redis_open(const char *address) {
    char host[256];
    const char *colon = strrchr(address, ':');
    size_t len = colon ? (size_t)(colon - address) : 0;
    if (!colon || len == 0 || len >= sizeof(host)) {
        fprintf(stderr, "chatctl: --redis must be HOST:PORT, got '%s'\n", address);
        return NULL;
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535) {
        fprintf(stderr, "chatctl: --redis must be HOST:PORT, got '%s'\n", address);
        return NULL;
    }
    memcpy(host, address, len);
    host[len] = '\0';
    struct timeval timeout = {5, 0};
    redisContext *c = redisConnectWithTimeout(host, (int)port, timeout);
    if (!c || c->err) {
        fprintf(stderr, "chatctl: Redis at %s: %s\n", address, c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, timeout);
    const char *user = getenv("CHATD_REDIS_USER"), *password = getenv("CHATD_REDIS_PASSWORD");
    if (password && *password) {
        redisReply *r = user && *user ? redisCommand(c, "AUTH %s %s", user, password)
                                      : redisCommand(c, "AUTH %s", password);
        bool ok = r && r->type != REDIS_REPLY_ERROR;
        freeReplyObject(r);
        if (!ok) {
            fprintf(stderr, "chatctl: Redis at %s refused AUTH\n", address);
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

/* Sends argv to *c, following MOVED to the slot's master (*c becomes that
 * connection); the reply, or NULL (said) when Redis fails or refuses. */
static redisReply *redis_run(redisContext **c, int argc, const char **argv) {
    for (int hop = 0; hop <= REDIS_REDIRECTS_MAX; hop++) {
        redisReply *r = redisCommandArgv(*c, argc, argv, NULL);
        if (!r) {
            fprintf(stderr, "chatctl: Redis: %s\n", (*c)->errstr);
            return NULL;
        }
        if (r->type != REDIS_REPLY_ERROR) return r;
        if (strncmp(r->str, "MOVED ", 6) != 0) {
            fprintf(stderr, "chatctl: Redis refused %s: %s\n", argv[0], r->str);
            freeReplyObject(r);
            return NULL;
        }
        const char *target = strrchr(r->str, ' ') + 1;
        redisContext *next = redis_open(target);
        freeReplyObject(r);
        if (!next) return NULL;
        redisFree(*c);
        *c = next;
    }
    fprintf(stderr, "chatctl: Redis: too many redirections\n");
    return NULL;
}

/* Runs one command whose reply is not needed; 0 or -1 (said). */
static int redis_do(redisContext **c, int argc, const char **argv) {
    redisReply *r = redis_run(c, argc, argv);
    freeReplyObject(r);
    return r ? 0 : -1;
}

static int key_create(redisContext **c, const char *name) {
    if (!apikey_name_valid(name, strlen(name))) {
        fprintf(stderr, "chatctl: a key's name is 1 to %d printable ASCII characters\n",
                APIKEY_NAME_MAX);
        return CTL_USAGE;
    }
    struct apikey key;
    char text[APIKEY_LEN + 1], hash[APIKEY_HASH_LEN + 1], record[STORE_KEY_MAX], created[32];
    struct timeval now;
    gettimeofday(&now, NULL);
    snprintf(created, sizeof(created), "%lld",
             (long long)now.tv_sec * 1000 + now.tv_usec / 1000);
    apikey_generate(&key, text);
    apikey_hash(key.secret, hash);
    sodium_memzero(&key.secret, sizeof(key.secret));
    store_key_apikey(record, sizeof(record), key.id);
    const char *hset[] = {"HSET", record, "hash", hash, "name", name, "created", created};
    const char *zadd[] = {"ZADD", STORE_KEY_APIKEYS, created, key.id};
    /* the record first: a key listed is a key that works */
    if (redis_do(c, 8, hset) < 0 || redis_do(c, 4, zadd) < 0) {
        sodium_memzero(text, sizeof(text));
        return CTL_UNAVAILABLE;
    }
    printf("id:     %s\nname:   %s\nkey:    %s\n", key.id, name, text);
    fprintf(stderr, "chatctl: the key is shown this once; keep it secret (Authorization: "
                    "Bearer <key>)\n");
    sodium_memzero(text, sizeof(text));
    return CTL_OK;
}

static void print_key(redisContext **c, const char *id) {
    char record[STORE_KEY_MAX];
    store_key_apikey(record, sizeof(record), id);
    const char *argv[] = {"HMGET", record, "name", "created"};
    redisReply *r = redis_run(c, 4, argv);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING)
        printf("%s  %-13s  %s\n", id, r->element[1]->str, r->element[0]->str);
    freeReplyObject(r);
}

static int key_list(redisContext **c) {
    const char *argv[] = {"ZRANGE", STORE_KEY_APIKEYS, "0", "-1"};
    redisReply *r = redis_run(c, 4, argv);
    if (!r) return CTL_UNAVAILABLE;
    printf("%-16s  %-13s  %s\n", "ID", "CREATED (ms)", "NAME");
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING) print_key(c, r->element[i]->str);
    freeReplyObject(r);
    return CTL_OK;
}

static int key_revoke(redisContext **c, const char *id) {
    if (!apikey_id_valid(id)) {
        fprintf(stderr, "chatctl: a key id is %d lower-case hex digits\n", APIKEY_ID_LEN);
        return CTL_USAGE;
    }
    char record[STORE_KEY_MAX];
    store_key_apikey(record, sizeof(record), id);
    const char *del[] = {"DEL", record};
    const char *zrem[] = {"ZREM", STORE_KEY_APIKEYS, id};
    redisReply *r = redis_run(c, 2, del);
    if (!r) return CTL_UNAVAILABLE;
    long long deleted = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    if (redis_do(c, 3, zrem) < 0) return CTL_UNAVAILABLE;
    if (!deleted) {
        fprintf(stderr, "chatctl: no key %s (revoked already?)\n", id);
        return CTL_REFUSED;
    }
    printf("revoked %s\n", id);
    return CTL_OK;
}

int chatctl_keys(int argc, char **argv, const char *redis) {
    const char *sub = argc > 1 ? argv[1] : "";
    const char *name = "unnamed";
    bool create = strcmp(sub, "create") == 0, list = strcmp(sub, "list") == 0,
         revoke = strcmp(sub, "revoke") == 0;
    if (create && argc == 4 && strcmp(argv[2], "--name") == 0) name = argv[3];
    else if (!((create && argc == 2) || (list && argc == 2) || (revoke && argc == 3))) {
        fprintf(stderr, "usage: chatctl key create [--name NAME] | key list | key revoke ID\n");
        return CTL_USAGE;
    }
    if (sodium_init() < 0) return CTL_REFUSED;
    redisContext *c = redis_open(redis);
    if (!c) return CTL_UNAVAILABLE;
    int rc = create ? key_create(&c, name) : list ? key_list(&c) : key_revoke(&c, argv[2]);
    redisFree(c);
    return rc;
}
