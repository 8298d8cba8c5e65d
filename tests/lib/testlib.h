/*
 * testlib: helpers shared by the integration, cluster, stack and topology
 * tests. They talk to the real chatd and redis-server that the suite's
 * runner (tests/<suite>/run.sh) started, found via the environment (CHAT_URL,
 * CHAT_REDIS_PORT, CHATD_PID; each runner lists what it sets at its top).
 */
#ifndef CHAT_TESTLIB_H
#define CHAT_TESTLIB_H

#include <stdbool.h>
#include <stddef.h>

#include "chatclient.h"

/* The server's base URL, e.g. "http://127.0.0.1:12345". */
const char *test_url(void);
/* chatd's pid (for /proc readings). */
int test_chatd_pid(void);
/* The redis-server port. */
int test_redis_port(void);
/* True when the tests run against a sanitizer build. */
bool test_sanitized(void);

/* Writes a fresh unique e-mail address ("<tag>-<n>-<pid>@example.com"). */
void test_email(char *out, size_t size, const char *tag);

/* Registers a new user on a new client and returns the client (logged in). */
chat_client *test_new_user(const char *tag, chat_user *user_out);

/* Creates room (POST /room/) at base (NULL: test_url()) with c's session;
 * the HTTP status (201 new, 200 there already), or -1 when nothing came. */
long test_create_room_at(const char *base, chat_client *c, const char *room);
long test_create_room(chat_client *c, const char *room);
/* Creates the private room as owner and invites the user of member_email
 * (NULL: nobody): 0, or -1 when a step was not answered as it should be. */
int test_private_room(chat_client *owner, const char *room, const char *member_email);

/* One raw HTTP exchange, for what the client library would never send. */
struct http_result {
    long status;        /* HTTP status, 0 when no response */
    char *body;         /* response body, NUL-terminated (heap) */
    size_t body_len;
    char *headers;      /* raw response headers (heap) */
};

/* Sends method path with optional extra headers (NULL-terminated list of
 * "Name: value" strings) and body (body_len bytes, may contain NULs). */
int test_http(const char *method, const char *path, const char *const *headers,
              const char *body, size_t body_len, struct http_result *out);
/* The same against another chatd, base being its URL like test_url()'s. */
int test_http_at(const char *base, const char *method, const char *path,
                 const char *const *headers, const char *body, size_t body_len,
                 struct http_result *out);
void test_http_result_free(struct http_result *r);
/* method path with a JSON body (may be NULL) as c's session (NULL:
 * anonymous); the status (-1 when nothing came), the reply in out when
 * out is not NULL. */
long test_call_as(chat_client *c, const char *method, const char *path, const char *body,
                  struct http_result *out);
/* The status of method path as c (NULL: anonymous) when the answer is the
 * error code; else -1, after printing what came instead. */
long test_call_code(chat_client *c, const char *method, const char *path, const char *body,
                    const char *code);

/* The same against the chatd at base (NULL: test_url()). */
long test_call_at(const char *base, chat_client *c, const char *method, const char *path,
                  const char *body, struct http_result *out);

/* The value of one sample of the /metrics of the chatd at base, e.g.
 * "chatd_redis_redirects_total{kind=\"ask\"}", or -1 when absent. */
long long test_metric(const char *base, const char *sample);

/* Copies the first JSON string member key of text (a plain search for
 * "key":"...", no escapes) into out; "" when there is none. */
void test_json_member(const char *text, const char *key, char *out, size_t size);

/* True when body is {"error":{"code":code,"message":<string>}}. */
bool test_is_error(const char *body, const char *code);

/* chatd's port, from the URL. */
int test_port(void);
/* A blocking TCP connection to chatd, or -1; rcvbuf > 0 sets SO_RCVBUF
 * first (a small receive window). */
int test_raw_connect(int rcvbuf);
/* Sends all of data[0..len), or stops early when the server closed. */
void test_raw_send(int fd, const char *data, size_t len);

/* Milliseconds on a monotonic clock. */
double test_now_ms(void);
/* chatd's resident set size in kB (VmRSS), or -1. */
long test_chatd_rss_kb(void);

#endif
