/* config: the option table and its parser (flags, then CHATD_* variables). */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum option_type { OPT_INT, OPT_STRING, OPT_LIST };

struct option_row {
    const char *flag;      /* "--port" */
    const char *env;       /* "CHATD_PORT" */
    enum option_type type; /* how the value is parsed */
    size_t offset;         /* field in struct config */
    size_t size;           /* buffer size for strings */
    const char *def;       /* default, as text */
    long min, max;         /* limits for integers */
    const char *help;      /* one line for --help */
};

#define INT_OPT(f, e, field, d, lo, hi, h) \
    {f, e, OPT_INT, offsetof(struct config, field), 0, d, lo, hi, h}
#define STR_OPT(f, e, field, d, h)                                                 \
    {f, e, OPT_STRING, offsetof(struct config, field),                             \
     sizeof(((struct config *)0)->field), d, 0, 0, h}
/* A string that each repeated flag extends by one space-separated word. */
#define LIST_OPT(f, e, field, h)                                                   \
    {f, e, OPT_LIST, offsetof(struct config, field),                               \
     sizeof(((struct config *)0)->field), "", 0, 0, h}

static const struct option_row options[] = {
    STR_OPT("--bind", "CHATD_BIND", bind, "0.0.0.0", "address to listen on"),
    INT_OPT("--port", "CHATD_PORT", port, "8182", 1, 65535, "TCP port to listen on"),
    STR_OPT("--redis", "CHATD_REDIS", redis, "127.0.0.1:6379",
            "Redis node(s), host:port[,host:port...]"),
    INT_OPT("--redis-timeout", "CHATD_REDIS_TIMEOUT", redis_timeout_ms, "2000", 10,
            600000, "ms before a Redis command fails with 503"),
    INT_OPT("--min-replica-acks", "CHATD_MIN_REPLICA_ACKS", min_replica_acks, "-1", -1, 16,
            "replicas that must acknowledge a write before it is acknowledged;"
            " -1: 1 on a cluster, 0 on a standalone Redis"),
    INT_OPT("--wait-timeout", "CHATD_WAIT_TIMEOUT", wait_timeout_ms, "1000", 1, 600000,
            "ms a write waits for replica acknowledgements (503 without them)"),
    INT_OPT("--topology-refresh", "CHATD_TOPOLOGY_REFRESH", topology_refresh_ms, "5000", 100,
            3600000, "ms between topology refreshes (errors and redirects refresh at once)"),
    INT_OPT("--workers", "CHATD_WORKERS", workers, "2", 1, 64,
            "threads for password hashing (Argon2id)"),
    STR_OPT("--worker-priority", "CHATD_WORKER_PRIORITY", worker_priority, "idle",
            "idle: hashing threads use only CPU time nothing else wants (SCHED_IDLE);"
            " nice: they run at nice 10"),
    INT_OPT("--max-body", "CHATD_MAX_BODY", max_body, "65536", 1024, 16777216,
            "largest request body in bytes (413 above)"),
    INT_OPT("--session-ttl", "CHATD_SESSION_TTL", session_ttl, "2592000", 60,
            315360000, "sliding session lifetime in seconds"),
    INT_OPT("--session-cache-ms", "CHATD_SESSION_CACHE_MS", session_cache_ms, "30000", 0,
            3600000, "ms a session read from Redis may answer from memory (ended sessions are"
            " forgotten at once); 0: no cache, every request reads Redis"),
    INT_OPT("--session-cache-size", "CHATD_SESSION_CACHE_SIZE", session_cache_size, "100000", 1,
            1000000, "sessions held in memory at most (the oldest go first)"),
    INT_OPT("--history-batch", "CHATD_HISTORY_BATCH", history_batch, "500", 1, 10000,
            "messages per Redis read when streaming history"),
    INT_OPT("--history-max-messages", "CHATD_HISTORY_MAX_MESSAGES", history_max_messages, "0",
            0, 1000000000, "a room keeps at least this many of its newest messages, a few"
            " more at times (XTRIM MAXLEN ~), unless it has its own; 0: no limit"),
    INT_OPT("--history-max-age", "CHATD_HISTORY_MAX_AGE", history_max_age, "0", 0, 1000000000,
            "a room keeps messages younger than this many seconds, older ones at times"
            " (XTRIM MINID ~), unless it has its own; 0: no limit"),
    INT_OPT("--reuseport", "CHATD_REUSEPORT", reuseport, "0", 0, 1,
            "1: listen with SO_REUSEPORT so several chatd share the port"),
    INT_OPT("--max-streams", "CHATD_MAX_STREAMS", max_streams, "10000", 1, 1000000,
            "open event streams at most (503 with Retry-After above)"),
    INT_OPT("--stream-buffer", "CHATD_STREAM_BUFFER", stream_buffer, "262144", 4096, 67108864,
            "bytes a slow stream may have unsent before it is disconnected"),
    INT_OPT("--stream-heartbeat", "CHATD_STREAM_HEARTBEAT", stream_heartbeat_ms, "15000", 100,
            60000, "ms between the comments that keep an idle event stream open"),
    INT_OPT("--fanout-threads", "CHATD_FANOUT_THREADS", fanout_threads, "2", 1, 16,
            "threads writing a live event to the streams (the event loop is one of them)"),
    INT_OPT("--drain-delay", "CHATD_DRAIN_DELAY", drain_delay_ms, "0", 0, 600000,
            "ms between SIGTERM and closing the listener (/ready answers 503 meanwhile)"),
    INT_OPT("--grace", "CHATD_GRACE", grace_ms, "10000", 0, 3600000,
            "ms after SIGTERM by which chatd exits, finished or not"),
    STR_OPT("--log-level", "CHATD_LOG_LEVEL", log_level, "info",
            "debug, info, warn or error"),
    STR_OPT("--web-root", "CHATD_WEB_ROOT", web_root, "web",
            "folder of the browser client's files, served at / (read at start-up)"),
    STR_OPT("--limit-login-email", "CHATD_LIMIT_LOGIN_EMAIL", limit_login_email, "10/60",
            "login attempts per e-mail address, N/seconds (0: no limit; 429 above)"),
    STR_OPT("--limit-login-address", "CHATD_LIMIT_LOGIN_ADDRESS", limit_login_address,
            "100/60", "login attempts per client address, N/seconds (0: no limit)"),
    STR_OPT("--limit-register-address", "CHATD_LIMIT_REGISTER_ADDRESS",
            limit_register_address, "20/3600",
            "registrations per client address, N/seconds (0: no limit)"),
    STR_OPT("--limit-messages-user", "CHATD_LIMIT_MESSAGES_USER", limit_messages_user, "10/1",
            "messages per user, N/seconds (0: no limit)"),
    STR_OPT("--limit-rooms-user", "CHATD_LIMIT_ROOMS_USER", limit_rooms_user, "10/3600",
            "rooms created per user, N/seconds (0: no limit)"),
    STR_OPT("--limit-dm-user", "CHATD_LIMIT_DM_USER", limit_dm_user, "30/3600",
            "direct conversations opened per user, N/seconds (0: no limit)"),
    STR_OPT("--limit-invites-user", "CHATD_LIMIT_INVITES_USER", limit_invites_user, "60/3600",
            "invitations to rooms per user, N/seconds (0: no limit)"),
    STR_OPT("--limit-api-key", "CHATD_LIMIT_API_KEY", limit_api_key, "1000/1",
            "server-API calls per API key, N/seconds (0: no limit)"),
    STR_OPT("--limit-edits-user", "CHATD_LIMIT_EDITS_USER", limit_edits_user, "10/10",
            "edits of one's messages per user, N/seconds (0: no limit)"),
    STR_OPT("--limit-reactions-user", "CHATD_LIMIT_REACTIONS_USER", limit_reactions_user,
            "30/10", "reactions added or taken back per user, N/seconds (0: no limit)"),
    STR_OPT("--limit-rooms-address", "CHATD_LIMIT_ROOMS_ADDRESS", limit_rooms_address,
            "30/3600", "rooms created per client address, N/seconds (0: no limit)"),
    INT_OPT("--max-rooms-per-user", "CHATD_MAX_ROOMS_PER_USER", max_rooms_per_user, "100", 0,
            1000000, "rooms one user may create in all (403 above; 0: no cap)"),
    STR_OPT("--limit-login-global", "CHATD_LIMIT_LOGIN_GLOBAL", limit_login_global, "200/1",
            "logins that need a password hash, every chatd together, N/seconds (0: no limit)"),
    INT_OPT("--max-connections-per-address", "CHATD_MAX_CONNECTIONS_PER_ADDRESS",
            max_connections_per_address, "256", 0, 1000000,
            "open connections per peer address, trusted proxies excepted (429 above; 0: no cap)"),
    INT_OPT("--max-streams-per-address", "CHATD_MAX_STREAMS_PER_ADDRESS", max_streams_per_address,
            "100", 0, 1000000, "open event streams per client address (429 above; 0: no cap)"),
    INT_OPT("--max-long-polls-per-address", "CHATD_MAX_LONG_POLLS_PER_ADDRESS",
            max_long_polls_per_address, "100", 0, 1000000,
            "waiting long-polls per client address (429 above; 0: no cap)"),
    INT_OPT("--max-hash-queue", "CHATD_MAX_HASH_QUEUE", max_hash_queue, "64", 1, 1000000,
            "password checks waiting for a --workers thread at most (503 busy above)"),
    STR_OPT("--admins", "CHATD_ADMINS", admins, "",
            "e-mail addresses of the site administrators (comma-separated): they read, "
            "moderate and manage the members of every room"),
    STR_OPT("--trusted-proxies", "CHATD_TRUSTED_PROXIES", trusted_proxies, "127.0.0.1,::1",
            "peers whose X-Forwarded-For names the client (comma-separated addresses)"),
    INT_OPT("--max-connections", "CHATD_MAX_CONNECTIONS", max_connections, "16000", 16,
            1000000, "open client connections at most (503 above; lowered to fit the fd limit)"),
    INT_OPT("--request-timeout", "CHATD_REQUEST_TIMEOUT", request_timeout_ms, "10000", 100,
            600000, "ms a request's line, headers and body may take to arrive"),
    STR_OPT("--redis-user", "CHATD_REDIS_USER", redis_user, "",
            "Redis ACL user for AUTH (empty: the default user)"),
    STR_OPT("--redis-password", "CHATD_REDIS_PASSWORD", redis_password, "",
            "Redis password, sent with AUTH on every connection (empty: none)"),
    STR_OPT("--jwt-key", "CHATD_JWT_KEY", jwt_key, "",
            "file with an HS256 secret (32 bytes or more) or a PEM public key (RSA: RS256,"
            " EC P-256: ES256) for POST /user/token (empty: none)"),
    STR_OPT("--jwt-jwks", "CHATD_JWT_JWKS", jwt_jwks, "",
            "file with a JWKS (RFC 7517) of token verification keys, chosen by kid (empty: none)"),
    STR_OPT("--jwt-issuer", "CHATD_JWT_ISSUER", jwt_issuer, "",
            "a token's iss claim must be this (empty: any)"),
    STR_OPT("--jwt-audience", "CHATD_JWT_AUDIENCE", jwt_audience, "",
            "a token's aud claim must be or contain this (empty: tokens with aud are refused)"),
    INT_OPT("--jwt-leeway", "CHATD_JWT_LEEWAY", jwt_leeway, "30", 0, 600,
            "seconds of clock skew allowed on a token's exp, nbf and iat"),
    INT_OPT("--jwt-session-max", "CHATD_JWT_SESSION_MAX", jwt_session_max, "0", 0, 315360000,
            "seconds a session from a token lasts at most (0: until the token's exp;"
            " never beyond --session-ttl)"),
    LIST_OPT("--webhook", "CHATD_WEBHOOK", webhooks,
             "URL[,kind...]: POST these events there (repeat the flag for more; the variable"
             " takes them space-separated; no kind: all; docs/API.md, \"Webhooks\")"),
    STR_OPT("--webhook-secret-file", "CHATD_WEBHOOK_SECRET_FILE", webhook_secret_file, "",
            "file with the secret (16 bytes or more) that signs every webhook delivery"),
    INT_OPT("--webhook-shards", "CHATD_WEBHOOK_SHARDS", webhook_shards, "8", 1, 1024,
            "queue streams webhook:{0..N-1}, spread over the cluster (every chatd alike)"),
    INT_OPT("--webhook-concurrency", "CHATD_WEBHOOK_CONCURRENCY", webhook_concurrency, "32",
            1, 10000, "webhook deliveries in flight at most, per chatd"),
    INT_OPT("--webhook-timeout", "CHATD_WEBHOOK_TIMEOUT", webhook_timeout_ms, "5000", 100,
            600000, "ms one webhook delivery may take (then it is retried)"),
    INT_OPT("--webhook-max-attempts", "CHATD_WEBHOOK_MAX_ATTEMPTS", webhook_max_attempts, "10",
            1, 1000, "attempts of a delivery before its event goes to the dead letters"),
    INT_OPT("--webhook-retry-base", "CHATD_WEBHOOK_RETRY_BASE", webhook_retry_base_ms, "1000",
            1, 3600000, "ms before the first retry; each next one waits twice as long (jittered)"),
    INT_OPT("--webhook-retry-max", "CHATD_WEBHOOK_RETRY_MAX", webhook_retry_max_ms, "300000",
            1, 86400000, "ms a webhook retry waits at most"),
    INT_OPT("--webhook-claim-after", "CHATD_WEBHOOK_CLAIM_AFTER", webhook_claim_ms, "30000",
            100, 3600000, "ms after which a delivery its chatd stopped tending is taken over"),
    INT_OPT("--webhook-poll", "CHATD_WEBHOOK_POLL", webhook_poll_ms, "500", 10, 60000,
            "ms between two reads of an idle webhook queue shard"),
    STR_OPT("--limit-typing-user", "CHATD_LIMIT_TYPING_USER", limit_typing_user, "30/60",
            "typing signals (POST /room/<name>/typing) per user, N/seconds (0: no limit)"),
    INT_OPT("--presence-ttl", "CHATD_PRESENCE_TTL", presence_ttl_ms, "30000", 300, 3600000,
            "ms a user stays online in a room after its chatd last renewed it (every third"
            " of this); a vanished chatd's users go offline within 4/3 of it"),
};
#define OPTION_COUNT (sizeof(options) / sizeof(options[0]))

static int set_option(struct config *cfg, const struct option_row *o, const char *value,
                      char err[256]) {
    char *field = (char *)cfg + o->offset;
    if (o->type == OPT_LIST && *field && *value) {
        size_t used = strlen(field);
        if (used + 1 + strlen(value) >= o->size) {
            snprintf(err, 256, "%s: value too long", o->flag);
            return -1;
        }
        field[used] = ' ';
        memcpy(field + used + 1, value, strlen(value) + 1);
        return 0;
    }
    if (o->type != OPT_INT) {
        if (strlen(value) >= o->size) {
            snprintf(err, 256, "%s: value too long", o->flag);
            return -1;
        }
        memcpy(field, value, strlen(value) + 1);
        return 0;
    }
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end || v < o->min || v > o->max) {
        snprintf(err, 256, "%s: expected a number from %ld to %ld, got '%s'", o->flag,
                 o->min, o->max, value);
        return -1;
    }
    *(int *)(void *)field = (int)v;
    return 0;
}

static const struct option_row *find_flag(const char *arg, const char **inline_value) {
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        size_t n = strlen(options[i].flag);
        if (strncmp(arg, options[i].flag, n) != 0) continue;
        if (arg[n] == '\0') {
            *inline_value = NULL;
            return &options[i];
        }
        if (arg[n] == '=') {
            *inline_value = arg + n + 1;
            return &options[i];
        }
    }
    return NULL;
}

static int load_defaults_and_env(struct config *cfg, char err[256]) {
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        if (set_option(cfg, &options[i], options[i].def, err) < 0) return -1;
        const char *env = getenv(options[i].env);
        if (env && *env && set_option(cfg, &options[i], env, err) < 0) return -1;
    }
    return 0;
}

int config_load(struct config *cfg, int argc, char **argv, char err[256]) {
    memset(cfg, 0, sizeof(*cfg));
    if (load_defaults_and_env(cfg, err) < 0) return -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            config_usage(argv[0]);
            return 1;
        }
        const char *value;
        const struct option_row *o = find_flag(argv[i], &value);
        if (!o) {
            snprintf(err, 256, "unknown option '%s' (see --help)", argv[i]);
            return -1;
        }
        if (!value) {
            if (i + 1 >= argc) {
                snprintf(err, 256, "%s needs a value", o->flag);
                return -1;
            }
            value = argv[++i];
        }
        if (set_option(cfg, o, value, err) < 0) return -1;
    }
    return 0;
}

void config_usage(const char *prog) {
    printf("Usage: %s [options]\n\nclusterchat server: the chat REST API on Redis.\n\n"
           "Every option can also be set by the environment variable shown;\n"
           "a flag wins over the variable.\n\n",
           prog);
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        printf("  %-18s %-22s %s (default: %s)\n", options[i].flag, options[i].env,
               options[i].help, options[i].def);
    }
    printf("  %-18s %-22s %s\n", "--help", "", "print this help");
}
