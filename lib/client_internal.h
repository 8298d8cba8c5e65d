/*
 * What the files of libchatclient share and the public header does not
 * show: struct chat_client, the request description, the constants and the
 * chat__ functions of client.c that chat_tail() (tail.c) builds on.
 */
#ifndef CHAT_CLIENT_INTERNAL_H
#define CHAT_CLIENT_INTERNAL_H

#include "chat_wire.h" /* room names, message ids and limits, as the server has them */
#include "chatclient.h"
#include "sse.h"

#include <curl/curl.h>
#include <jansson.h>

#define CHAT_DEFAULT_TIMEOUT_MS 10000L
#define CHAT_TOKEN_MAX 4096
#define CHAT_ERROR_MAX 512
#define CHAT_COOKIE_NAME "authKey"
#define CHAT_COOKIE_NAME_TLS "__Host-authKey" /* what chatd sets over HTTPS */
#define CHAT_DEFAULT_RETRY_BUDGET_MS 30000L
#define CHAT_RETRY_FIRST_MS 50L                      /* the first backoff delay */
#define CHAT_RETRY_MAX_MS 1000L                      /* the backoff delay doubles up to this */
#define CHAT_RETRY_AFTER_MAX_S 3600L                 /* a longer Retry-After counts as this */
#define CHAT_MSG_ID_RANDOM 16                        /* random bytes in a generated clientMsgId */
#define CHAT_MSG_ID_GEN_LEN (2 * CHAT_MSG_ID_RANDOM) /* hex digits in one */
#define CHAT_TAIL_FIRST_MS 1000L  /* reconnection delay when the server names none */
#define CHAT_TAIL_MIN_MS 50L      /* never reconnect faster than this */
#define CHAT_TAIL_MAX_MS 10000L   /* failures double the delay up to this */
#define CHAT_TAIL_IDLE_MS 45000L  /* a stream silent this long is dead (3 heartbeats) */
#define CHAT_ERROR_BODY_MAX 65536 /* how much of an error answer a tail keeps */

#if defined(__GNUC__) || defined(__clang__)
#define CHAT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CHAT_PRINTF(f, a)
#endif

struct chat_client {
    CURL *curl;                       /* one easy handle, reused (keep-alive) */
    int curl_global;                  /* holds a curl_global_init() reference */
    char *base_url;                   /* e.g. "http://host:8182", no trailing '/' */
    char *cacert;                     /* CA file for https:// servers, NULL: the system's */
    char *token;                      /* session token, NULL when logged out */
    long timeout_ms;                  /* total timeout per request */
    long retry_budget_ms;             /* wall time in which retries may start, 0: none */
    unsigned attempts;                /* HTTP attempts made by the last call */
    int replayed;                     /* last response had "Idempotent-Replayed: true" */
    int status;                       /* HTTP status of the last response, 0 if none */
    int nomem;                        /* set when a libcurl callback ran out of memory */
    int hopeless;                     /* the last transfer failed in a way no retry cures */
    long retry_after_ms;              /* the last response's Retry-After, 0 when none */
    chat_buf body;                    /* body of the last response */
    char *cookie_token;               /* authKey from the last response's Set-Cookie */
    char error[CHAT_ERROR_MAX];       /* words for the last failure, "" after success */
    char curl_error[CURL_ERROR_SIZE]; /* libcurl's detail for the last transfer */
    char last_event_id[CHAT_STREAM_ID_MAX + 1]; /* last message chat_tail() delivered (or its
                                                  after), "" for none */
    chat_signal_fn *on_signal;        /* chat_tail()'s typing and presence signals, or NULL */
    void *signal_arg;                 /* its argument */
};

/* One HTTP request as the API calls describe it. */
typedef struct chat_request {
    const char *method;          /* "GET", "POST", "PUT" or "DELETE" */
    const char *path;            /* path and query, starting with '/' */
    json_t *body;                /* JSON request body, NULL for none */
    int auth;                    /* nonzero: send the session token when there is one */
    int retry;                   /* nonzero: safe to repeat on a network error or a 503 */
    const char *idempotency_key; /* sent as Idempotency-Key too, so that HAProxy
                                    may retry the POST itself; NULL for none */
} chat_request;

/* ---- small helpers (client.c) ---- */

/* Overwrites a secret before freeing it; NULL is fine. */
void chat__secret_free(char *s);

/* Maps an HTTP status to a chat_err as include/chatclient.h documents it. */
int chat__status_to_err(int status);

/* Whether a failed transfer would fail the same way again (a bad URL, an
 * untrusted certificate), so that retrying it is pointless. */
int chat__curl_code_is_hopeless(CURLcode cc);

/* Milliseconds on the monotonic clock. */
long long chat__now_ms(void);

/* Sleeps for ms milliseconds, also when signals interrupt the sleep. */
void chat__sleep_ms(long ms);

/* A tail's wait before its next connection (tail.c): retry_ms (the
 * server's "retry:", -1 for none) doubled for each failure in a row. */
long chat__tail_delay(long retry_ms, unsigned failures);

/* The delay before the next retry: delay plus a random 0 to 25 % of it. */
long chat__backoff_jitter(long delay);

/* ---- errors, requests and JSON (client.c) ---- */

/* Records the words for a failure (control characters masked); returns err. */
CHAT_PRINTF(3, 4)
int chat__client_fail(chat_client *c, int err, const char *fmt, ...);
/* Records the words for a failed transfer (libcurl's, made plainer for an
 * untrusted certificate) and whether a retry could help; returns
 * CHAT_ERR_NETWORK. */
int chat__client_fail_transfer(chat_client *c, CURLcode cc);

/* Records the server's error message for a non-2xx response; returns err. */
int chat__client_fail_status(chat_client *c, int err);

/* Records the words for a failed conversion of a 2xx body; returns rc. */
int chat__client_fail_parse(chat_client *c, int rc, const char *what);

/* Forgets everything about the previous response. */
void chat__client_response_reset(chat_client *c);

/* Sets the options every request shares (after curl_easy_reset()). */
void chat__client_setup_common(chat_client *c);

/* base_url + req->path and, when req->auth and there is a token,
 * "authKey=<token>" as new strings; -1 on OOM. */
int chat__client_strings(chat_client *c, const chat_request *req, char **url, char **cookie);

/* Starts an API call: CHAT_ERR_USAGE for a NULL client, else clears the
 * last call's status, attempts and words. */
int chat__client_begin(chat_client *c);

/* Fills m from a JSON message object; CHAT_ERR_PROTOCOL or CHAT_ERR_NOMEM
 * (m is then cleaned up). */
int chat__message_from_json(json_t *obj, chat_message *m);

/* Runs req (with its retries) and, when root is not NULL, parses the
 * answer's JSON into *root (the caller decrefs it). CHAT_OK or the error,
 * described on c. */
int chat__client_call(chat_client *c, const chat_request *req, json_t **root);

#endif
