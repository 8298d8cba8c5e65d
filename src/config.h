/*
 * config: chatd's settings. One table (config.c) lists every option with its
 * flag, its CHATD_* environment variable, its default, limits and help text;
 * flags override the environment, which overrides the defaults.
 */
#ifndef CHAT_CONFIG_H
#define CHAT_CONFIG_H

struct config {
    char bind[64];          /* address to listen on */
    int port;               /* TCP port to listen on */
    char redis[512];        /* host:port[,host:port...] of Redis (seed nodes) */
    int redis_timeout_ms;   /* a Redis command older than this fails (503) */
    int min_replica_acks;   /* replicas a write needs before its 201; -1: auto */
    int wait_timeout_ms;    /* how long WAIT may wait for them */
    int topology_refresh_ms; /* periodic CLUSTER SLOTS refresh */
    int workers;            /* threads hashing passwords */
    char worker_priority[8]; /* "idle" (SCHED_IDLE) or "nice" (nice 10) for those threads */
    int max_body;           /* largest accepted request body in bytes */
    int session_ttl;        /* sliding session lifetime in seconds */
    int session_cache_ms;   /* a cached session answers this long after its read; 0: no cache */
    int session_cache_size; /* sessions cached at most */
    int history_batch;      /* messages fetched per XRANGE when streaming */
    int history_max_messages; /* a room keeps about this many messages; 0: no limit */
    int history_max_age;    /* a room keeps messages younger than this (s); 0: no limit */
    char log_level[16];     /* debug, info, warn or error */
    int reuseport;          /* 1: SO_REUSEPORT, several chatd on one port */
    int max_streams;        /* open event streams at most (503 above) */
    int stream_buffer;      /* bytes a stream may have unsent before it is cut */
    int stream_heartbeat_ms; /* between two ": ping" comments on every stream */
    int fanout_threads;     /* threads sending one event to many streams (the loop included) */
    int drain_delay_ms;     /* on SIGTERM: /ready is 503 this long before accepting stops */
    int grace_ms;           /* on SIGTERM: exit at the latest this long after the signal */
    char web_root[512];     /* folder of the browser client's files (served at /) */
    char limit_login_email[32];      /* "N/seconds": login attempts per e-mail */
    char limit_login_address[32];    /* "N/seconds": login attempts per client address */
    char limit_register_address[32]; /* "N/seconds": registrations per client address */
    char limit_messages_user[32];    /* "N/seconds": messages per user */
    char limit_rooms_user[32];       /* "N/seconds": rooms created per user */
    char limit_dm_user[32];          /* "N/seconds": direct conversations opened per user */
    char limit_invites_user[32];     /* "N/seconds": invitations per user */
    char limit_api_key[32];          /* "N/seconds": server-API calls per API key */
    char limit_edits_user[32];       /* "N/seconds": edits of one's messages per user */
    char limit_reactions_user[32];   /* "N/seconds": reactions added or taken back per user */
    char limit_rooms_address[32];    /* "N/seconds": rooms created per client address */
    int max_rooms_per_user;          /* rooms one user may create in all; 0: no cap */
    char limit_login_global[32];     /* "N/seconds": logins that need a hash, every chatd together */
    int max_connections_per_address; /* open connections per peer address, not for trusted proxies */
    int max_streams_per_address;     /* open event streams per client address (429 above) */
    int max_long_polls_per_address;  /* parked long-polls per client address (429 above) */
    int max_hash_queue;              /* password checks waiting for a worker at most (503 above) */
    char trusted_proxies[256];       /* peers whose X-Forwarded-For is believed */
    char admins[1024];               /* site administrators' e-mail addresses, comma-separated */
    int max_connections;             /* open client connections at most */
    int request_timeout_ms;          /* a request must arrive completely within this */
    char redis_user[128];            /* ACL user for AUTH, "" for the default user */
    char redis_password[256];        /* AUTH password, "" for none */
    char jwt_key[512];               /* file: an HS256 secret or a PEM public key, "" for none */
    char jwt_jwks[512];              /* file: a JWKS of verification keys, "" for none */
    char jwt_issuer[256];            /* a token's iss must be this, "" for any */
    char jwt_audience[256];          /* a token's aud must hold this, "" for none */
    int jwt_leeway;                  /* seconds of clock skew allowed on exp, nbf, iat */
    int jwt_session_max;             /* a token's session lasts at most this (s); 0: until exp */
    char webhooks[4096];             /* "URL[,kind...]" entries, space-separated ("": none) */
    char webhook_secret_file[512];   /* file: the secret that signs every delivery */
    int webhook_shards;              /* queue streams webhook:{0..n-1}; all chatd alike */
    int webhook_concurrency;         /* deliveries in flight at most, per chatd */
    int webhook_timeout_ms;          /* one delivery's whole HTTP exchange at most */
    int webhook_max_attempts;        /* attempts before an event goes to the dead letters */
    int webhook_retry_base_ms;       /* the first retry's delay; doubles after each */
    int webhook_retry_max_ms;        /* a retry's delay at most */
    int webhook_claim_ms;            /* a delivery idle this long is taken by another chatd */
    int webhook_poll_ms;             /* between two reads of an idle queue shard */
    char limit_typing_user[32];      /* "N/seconds": typing signals per user */
    int presence_ttl_ms;             /* a presence entry lives this long unless renewed */
};

/* Fills cfg from defaults, the environment and argv. Returns 0, 1 when
 * --help was printed, or -1 after printing an error to err. */
int config_load(struct config *cfg, int argc, char **argv, char err[256]);

/* Prints the usage text with every option, its variable and its default. */
void config_usage(const char *prog);

#endif
