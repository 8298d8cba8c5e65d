/*
 * libchatclient's core: the blocking libcurl + jansson implementation of
 * include/chatclient.h, but for chat_tail() (tail.c).
 *
 * Every API call builds one HTTP request, runs it on the client's single
 * CURL easy handle (reset between requests, so the connection is kept
 * alive), collects the body in a geometrically growing buffer and the
 * authKey cookie from the Set-Cookie header, maps the status to a chat_err
 * and finally turns the JSON body into the caller's structs. Calls that are
 * safe to repeat (send, which carries a clientMsgId, login and history) run
 * their request again on a network error or a 503, with exponential backoff,
 * until the client's retry budget is spent.
 *
 * Each client holds a reference on libcurl's global state: chat_client_new()
 * calls curl_global_init(), which counts its callers, and chat_client_free()
 * gives it back with curl_global_cleanup(), so the library keeps no state of
 * its own. With a libcurl built thread-safe (Debian's is) clients may be
 * made on any thread; otherwise the first should be made before the
 * program starts other threads.
 */
#include "client_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* ---- small helpers (no I/O) ---- */

/* Overwrites a secret before freeing it; NULL is fine. */
void chat__secret_free(char *s) {
    if (!s) return;
    for (volatile char *p = s; *p; p++)
        *p = 0;
    free(s);
}

static char *str_dup(const char *s) {
    size_t len = strlen(s) + 1;
    char *copy = malloc(len);
    if (copy) memcpy(copy, s, len);
    return copy;
}

/* Whether token is a non-empty cookie-octet string (RFC 6265) we may send. */
static int token_is_valid(const char *token) {
    size_t len = strlen(token);
    if (len == 0 || len > CHAT_TOKEN_MAX) return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)token[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == ',' || ch == ';' || ch == '\\') return 0;
    }
    return 1;
}

/*
 * The value of the cookie called name in a Set-Cookie header value (the part
 * after "Set-Cookie:"), as a new string; NULL when the header sets another
 * cookie or an empty value. Sets *nomem when the copy fails.
 */
static char *cookie_value(const char *p, size_t len, const char *name, int *nomem) {
    size_t name_len = strlen(name);
    while (len > 0 && (*p == ' ' || *p == '\t'))
        p++, len--;
    if (len <= name_len || memcmp(p, name, name_len) != 0 || p[name_len] != '=') return NULL;
    p += name_len + 1;
    len -= name_len + 1;
    size_t n = 0;
    while (n < len && p[n] != ';' && p[n] != '\r' && p[n] != '\n' && p[n] != ' ' && p[n] != '\t')
        n++;
    if (n >= 2 && p[0] == '"' && p[n - 1] == '"') p++, n -= 2;
    if (n == 0) return NULL;
    char *value = malloc(n + 1);
    if (!value) {
        *nomem = 1;
        return NULL;
    }
    memcpy(value, p, n);
    value[n] = '\0';
    return value;
}

static int header_is(const char *line, size_t len, const char *name, const char *value) {
    size_t name_len = strlen(name), value_len = strlen(value);
    if (len <= name_len || strncasecmp(line, name, name_len) != 0 || line[name_len] != ':')
        return 0;
    line += name_len + 1;
    len -= name_len + 1;
    while (len > 0 && (*line == ' ' || *line == '\t'))
        line++, len--;
    while (len > 0 && strchr(" \t\r\n", line[len - 1]))
        len--;
    return len == value_len && strncasecmp(line, value, len) == 0;
}

/* Maps an HTTP status to a chat_err as include/chatclient.h documents it. */
int chat__status_to_err(int status) {
    switch (status) {
    case 400:
    case 413:
    case 415:
        return CHAT_ERR_INVALID;
    case 401:
        return CHAT_ERR_AUTH;
    case 409:
        return CHAT_ERR_CONFLICT;
    case 404:
    case 405:
        return CHAT_ERR_NOT_FOUND;
    case 429:
        return CHAT_ERR_RATE_LIMITED;
    case 503:
        return CHAT_ERR_UNAVAILABLE;
    default:
        return status >= 200 && status < 300 ? CHAT_OK : CHAT_ERR_SERVER;
    }
}

/* Whether a failed transfer would fail the same way again (a bad URL, an
 * untrusted certificate), so that retrying it is pointless. */
int chat__curl_code_is_hopeless(CURLcode cc) {
    switch (cc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
        return 1;
    default:
        return 0;
    }
}

/* ---- randomness and time ---- */

/* Fills buf with n random bytes from getrandom(), else /dev/urandom; -1 when
 * neither works. */
static int random_fill(unsigned char *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r > 0)
            got += (size_t)r;
        else if (r < 0 && errno != EINTR)
            break;
    }
    if (got == n) return 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r > 0)
            got += (size_t)r;
        else if (r == 0 || errno != EINTR)
            break;
    }
    close(fd);
    return got == n ? 0 : -1;
}

/* Writes a new clientMsgId, 32 lowercase hex digits, to id. Without any
 * source of randomness it falls back to the clock, the pid and a counter,
 * which are still unique within this machine. */
static void msg_id_generate(char id[CHAT_MSG_ID_GEN_LEN + 1]) {
    static const char hex[] = "0123456789abcdef";
    static _Atomic unsigned counter; /* process-wide: the ids must differ across clients */
    unsigned char bytes[CHAT_MSG_ID_RANDOM];
    if (random_fill(bytes, sizeof bytes) == 0) {
        for (size_t i = 0; i < sizeof bytes; i++) {
            id[2 * i] = hex[bytes[i] >> 4];
            id[2 * i + 1] = hex[bytes[i] & 0xf];
        }
        id[CHAT_MSG_ID_GEN_LEN] = '\0';
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long long ns =
        (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
    snprintf(id, CHAT_MSG_ID_GEN_LEN + 1, "%016llx%08x%08x", ns, (unsigned)getpid(), ++counter);
}

/* Milliseconds on the monotonic clock. */
long long chat__now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps for ms milliseconds, also when signals interrupt the sleep. */
void chat__sleep_ms(long ms) {
    struct timespec left = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&left, &left) != 0 && errno == EINTR) {
    }
}

/* The delay before the next retry: delay plus a random 0 to 25 % of it. */
long chat__backoff_jitter(long delay) {
    unsigned char r[2];
    if (delay < 4 || random_fill(r, sizeof r) != 0) return delay;
    return delay + (long)(((unsigned)r[0] << 8 | r[1]) % (unsigned)(delay / 4 + 1));
}

/* ---- error reporting ---- */

/* Records the words for a failure (control characters masked); returns err. */
CHAT_PRINTF(3, 4)
int chat__client_fail(chat_client *c, int err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof c->error, fmt, ap);
    va_end(ap);
    for (char *p = c->error; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    }
    return err;
}

int chat__client_fail_transfer(chat_client *c, CURLcode cc) {
    const char *detail = c->curl_error[0] ? c->curl_error : curl_easy_strerror(cc);
    c->hopeless = chat__curl_code_is_hopeless(cc);
    if (cc == CURLE_PEER_FAILED_VERIFICATION)
        return chat__client_fail(c, CHAT_ERR_NETWORK,
                                 "the server's TLS certificate is not trusted%s (%s)",
                                 c->cacert ? " by the given CA file" : "", detail);
    if (cc == CURLE_SSL_CACERT_BADFILE)
        return chat__client_fail(c, CHAT_ERR_NETWORK, "cannot use the CA file %s (%s)",
                                 c->cacert ? c->cacert : "of the system", detail);
    return chat__client_fail(c, CHAT_ERR_NETWORK, "%s", detail);
}

/* Records the server's error message for a non-2xx response; returns err. */
int chat__client_fail_status(chat_client *c, int err) {
    json_t *root = NULL;
    if (c->body.len > 0) root = json_loadb(c->body.data, c->body.len, 0, NULL);
    json_t *msg = json_object_get(json_object_get(root, "error"), "message");
    if (json_is_string(msg) && json_string_length(msg) > 0)
        chat__client_fail(c, err, "%s", json_string_value(msg));
    else
        chat__client_fail(c, err, "the server answered HTTP status %d", c->status);
    json_decref(root);
    return err;
}

/* ---- libcurl callbacks ---- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata) {
    chat_client *c = userdata;
    size_t len = size * nmemb;
    if (chat__buf_append(&c->body, data, len) != 0) {
        c->nomem = 1;
        return 0; /* aborts the transfer */
    }
    return len;
}

/* A Retry-After value in whole seconds ("  120\r\n") as milliseconds, capped;
 * 0 for anything else (the HTTP-date form included: the backoff applies). */
static long retry_after_ms(const char *v, size_t len) {
    long s = 0;
    size_t i = 0;
    while (i < len && (v[i] == ' ' || v[i] == '\t'))
        i++;
    size_t digits = i;
    while (i < len && v[i] >= '0' && v[i] <= '9') {
        if (s < CHAT_RETRY_AFTER_MAX_S) s = s * 10 + (v[i] - '0');
        i++;
    }
    if (i == digits) return 0;
    while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n'))
        i++;
    if (i != len) return 0;
    return (s < CHAT_RETRY_AFTER_MAX_S ? s : CHAT_RETRY_AFTER_MAX_S) * 1000;
}

static size_t on_header(char *data, size_t size, size_t nitems, void *userdata) {
    chat_client *c = userdata;
    size_t len = size * nitems;
    static const char set_cookie[] = "set-cookie:", retry_after[] = "retry-after:";
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        free(c->cookie_token); /* a new response (after 1xx) starts */
        c->cookie_token = NULL;
        c->replayed = 0;
        c->retry_after_ms = 0;
    } else if (header_is(data, len, "Idempotent-Replayed", "true")) {
        c->replayed = 1;
    } else if (len > sizeof retry_after - 1 &&
               strncasecmp(data, retry_after, sizeof retry_after - 1) == 0) {
        c->retry_after_ms = retry_after_ms(data + sizeof retry_after - 1,
                                           len - (sizeof retry_after - 1));
    } else if (len > sizeof set_cookie - 1 &&
               strncasecmp(data, set_cookie, sizeof set_cookie - 1) == 0) {
        const char *v = data + sizeof set_cookie - 1;
        size_t vlen = len - (sizeof set_cookie - 1);
        char *value = cookie_value(v, vlen, CHAT_COOKIE_NAME_TLS, &c->nomem);
        if (!value) value = cookie_value(v, vlen, CHAT_COOKIE_NAME, &c->nomem);
        if (value) {
            chat__secret_free(c->cookie_token);
            c->cookie_token = value;
        }
    }
    return len;
}

/* ---- the HTTP transfer ---- */

/* Forgets everything about the previous response. */
void chat__client_response_reset(chat_client *c) {
    c->status = 0;
    c->nomem = 0;
    c->hopeless = 0;
    c->replayed = 0;
    c->retry_after_ms = 0;
    c->body.len = 0;
    if (c->body.data) c->body.data[0] = '\0';
    chat__secret_free(c->cookie_token);
    c->cookie_token = NULL;
    c->error[0] = '\0';
    c->curl_error[0] = '\0';
}

/* Sets the options every request shares. */
void chat__client_setup_common(chat_client *c) {
    CURL *h = c->curl;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->curl_error);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "libchatclient/1.0");
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_DEFAULT_PROTOCOL, "http");
    if (c->cacert) curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
}

/* Sets the method and, if any, the body (payload must outlive the transfer). */
static void client_setup_method(chat_client *c, const char *method, const char *payload) {
    CURL *h = c->curl;
    if (strcmp(method, "GET") == 0)
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    else if (strcmp(method, "POST") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (payload) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(payload));
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    }
}

/* The request headers; "Expect:" turns off 100-continue for large bodies. */
static struct curl_slist *headers_new(const char *idempotency_key) {
    static const char *const lines[] = {"Content-Type: application/json",
                                        "Accept: application/json", "Expect:"};
    struct curl_slist *list = NULL;
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        struct curl_slist *next = curl_slist_append(list, lines[i]);
        if (!next) {
            curl_slist_free_all(list);
            return NULL;
        }
        list = next;
    }
    if (idempotency_key) {
        char line[sizeof "Idempotency-Key: " + CHAT_CLIENT_MSG_ID_MAX];
        snprintf(line, sizeof line, "Idempotency-Key: %s", idempotency_key);
        struct curl_slist *next = curl_slist_append(list, line);
        if (!next) curl_slist_free_all(list);
        list = next;
    }
    return list;
}

/* base_url + path and "authKey=<token>" as new strings; -1 on OOM. */
int chat__client_strings(chat_client *c, const chat_request *req, char **url, char **cookie) {
    size_t base_len = strlen(c->base_url), path_len = strlen(req->path);
    *url = malloc(base_len + path_len + 1);
    if (!*url) return -1;
    memcpy(*url, c->base_url, base_len);
    memcpy(*url + base_len, req->path, path_len + 1);
    if (!req->auth || !c->token) return 0;
    size_t len = sizeof CHAT_COOKIE_NAME + strlen(c->token) + 1;
    *cookie = malloc(len);
    if (!*cookie) return -1;
    snprintf(*cookie, len, "%s=%s", CHAT_COOKIE_NAME, c->token);
    return 0;
}

/* Runs the prepared transfer and maps its outcome to a chat_err. */
static int client_transfer(chat_client *c) {
    CURLcode cc = curl_easy_perform(c->curl);
    if (c->nomem) return chat__client_fail(c, CHAT_ERR_NOMEM, "out of memory");
    if (cc != CURLE_OK) return chat__client_fail_transfer(c, cc);
    c->hopeless = 0;
    long status = 0;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    c->status = (int)status;
    int err = chat__status_to_err(c->status);
    return err == CHAT_OK ? CHAT_OK : chat__client_fail_status(c, err);
}

/* Sends req once and receives the answer into c->body; CHAT_OK only for a 2xx. */
static int client_attempt(chat_client *c, const chat_request *req) {
    char *url = NULL, *cookie = NULL, *payload = NULL;
    struct curl_slist *headers = headers_new(req->idempotency_key);
    chat__client_response_reset(c);
    curl_easy_reset(c->curl);
    if (req->body) payload = json_dumps(req->body, JSON_COMPACT);
    int rc = CHAT_OK;
    if (!headers || (req->body && !payload) || chat__client_strings(c, req, &url, &cookie) != 0) {
        rc = chat__client_fail(c, CHAT_ERR_NOMEM, "out of memory");
    } else {
        chat__client_setup_common(c);
        client_setup_method(c, req->method, payload);
        curl_easy_setopt(c->curl, CURLOPT_URL, url);
        curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
        if (cookie) curl_easy_setopt(c->curl, CURLOPT_COOKIE, cookie);
        rc = client_transfer(c);
    }
    chat__secret_free(cookie);
    chat__secret_free(payload); /* may hold a password */
    free(url);
    curl_slist_free_all(headers);
    return rc;
}

/* Whether the failed attempt rc may be repeated: no response at all (unless
 * the failure is hopeless), a 503 or 429, or a load balancer's 502 or 504. */
static int client_attempt_is_transient(const chat_client *c, int rc) {
    return (rc == CHAT_ERR_NETWORK && !c->hopeless) || rc == CHAT_ERR_UNAVAILABLE ||
           rc == CHAT_ERR_RATE_LIMITED ||
           (rc == CHAT_ERR_SERVER && (c->status == 502 || c->status == 504));
}

/* Adds how often the request was tried to the words for the last failure. */
static void client_note_attempts(chat_client *c, long long elapsed_ms) {
    size_t len = strlen(c->error);
    if (c->attempts > 1 && len < sizeof c->error)
        snprintf(c->error + len, sizeof c->error - len, " (gave up after %u attempts in %lld ms)",
                 c->attempts, elapsed_ms);
}

/* Runs req like client_attempt(); when req->retry is set, repeats it after a
 * transient failure with exponential backoff (50 ms doubling up to 1 s, plus
 * jitter; never sooner than a 429's Retry-After) as long as the next attempt
 * starts within the retry budget. */
static int client_perform(chat_client *c, const chat_request *req) {
    long long start = chat__now_ms(), elapsed = 0;
    long delay = CHAT_RETRY_FIRST_MS;
    int rc;
    c->attempts = 0;
    for (;;) {
        c->attempts++;
        rc = client_attempt(c, req);
        if (!req->retry || !client_attempt_is_transient(c, rc)) return rc;
        long wait = chat__backoff_jitter(c->retry_after_ms > delay ? c->retry_after_ms : delay);
        elapsed = chat__now_ms() - start;
        if (elapsed + wait > c->retry_budget_ms) break;
        chat__sleep_ms(wait);
        delay = delay * 2 > CHAT_RETRY_MAX_MS ? CHAT_RETRY_MAX_MS : delay * 2;
    }
    client_note_attempts(c, elapsed);
    return rc;
}

/* Starts an API call: a failure before any request leaves status 0. */
int chat__client_begin(chat_client *c) {
    if (!c) return CHAT_ERR_USAGE;
    c->status = 0;
    c->attempts = 0;
    c->replayed = 0;
    c->error[0] = '\0';
    return CHAT_OK;
}

/* Parses c->body as JSON into *root. */
static int client_body_json(chat_client *c, json_t **root) {
    json_error_t jerr;
    *root = json_loadb(c->body.data ? c->body.data : "", c->body.len, JSON_ALLOW_NUL, &jerr);
    if (!*root)
        return chat__client_fail(c, CHAT_ERR_PROTOCOL, "the server's answer is not JSON: %s",
                                 jerr.text);
    return CHAT_OK;
}

int chat__client_call(chat_client *c, const chat_request *req, json_t **root) {
    int rc = client_perform(c, req);
    if (rc == CHAT_OK && root) rc = client_body_json(c, root);
    return rc;
}

/* ---- JSON to structs (no I/O) ---- */

/* Copies obj[key] (a string, or an integer as text) to *out; when it is
 * missing, copies fallback, or fails with CHAT_ERR_PROTOCOL for NULL. */
static int json_take_string(json_t *obj, const char *key, const char *fallback, char **out) {
    json_t *v = json_object_get(obj, key);
    char number[32];
    const char *s = fallback;
    if (json_is_string(v)) {
        s = json_string_value(v);
    } else if (json_is_integer(v)) {
        snprintf(number, sizeof number, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        s = number;
    } else if (v && !json_is_null(v)) {
        return CHAT_ERR_PROTOCOL;
    }
    if (!s) return CHAT_ERR_PROTOCOL;
    *out = str_dup(s);
    return *out ? CHAT_OK : CHAT_ERR_NOMEM;
}

static int user_from_json(json_t *obj, chat_user *u) {
    int rc = json_is_object(obj) ? CHAT_OK : CHAT_ERR_PROTOCOL;
    if (rc == CHAT_OK) rc = json_take_string(obj, "id", NULL, &u->id);
    if (rc == CHAT_OK) rc = json_take_string(obj, "email", NULL, &u->email);
    if (rc == CHAT_OK) rc = json_take_string(obj, "name", "", &u->name);
    if (rc != CHAT_OK) chat_user_cleanup(u);
    return rc;
}

/* A string member that may be absent (then *out stays NULL). */
static int json_take_optional(json_t *obj, const char *key, char **out) {
    json_t *v = json_object_get(obj, key);
    if (!v) return CHAT_OK;
    if (!json_is_string(v)) return CHAT_ERR_PROTOCOL;
    *out = str_dup(json_string_value(v));
    return *out ? CHAT_OK : CHAT_ERR_NOMEM;
}

/* A room event's fields and a reply's quote, when there. */
static int message_extras_from_json(json_t *obj, chat_message *m) {
    int rc = json_take_optional(obj, "event", &m->event);
    if (rc == CHAT_OK) rc = json_take_optional(obj, "target", &m->target);
    if (rc == CHAT_OK) rc = json_take_optional(obj, "role", &m->role);
    if (rc == CHAT_OK) rc = json_take_optional(obj, "action", &m->action);
    json_t *quote = json_object_get(obj, "replyTo");
    if (rc == CHAT_OK && quote && !json_is_object(quote)) rc = CHAT_ERR_PROTOCOL;
    if (rc == CHAT_OK && quote) rc = json_take_string(quote, "id", NULL, &m->reply_to);
    if (rc == CHAT_OK && quote) rc = json_take_string(quote, "name", "", &m->quote_name);
    if (rc == CHAT_OK && quote) rc = json_take_string(quote, "text", "", &m->quote_text);
    return rc;
}

int chat__message_from_json(json_t *obj, chat_message *m) {
    json_t *ts = json_object_get(obj, "timestamp");
    int rc = json_is_object(obj) && json_is_number(ts) ? CHAT_OK : CHAT_ERR_PROTOCOL;
    if (rc == CHAT_OK) rc = json_take_string(obj, "id", NULL, &m->id);
    if (rc == CHAT_OK) rc = json_take_string(obj, "userId", "", &m->user_id);
    if (rc == CHAT_OK) rc = json_take_string(obj, "name", "", &m->name);
    if (rc == CHAT_OK) rc = json_take_string(obj, "text", NULL, &m->text);
    if (rc == CHAT_OK) rc = message_extras_from_json(obj, m);
    if (rc == CHAT_OK)
        m->timestamp =
            json_is_integer(ts) ? (int64_t)json_integer_value(ts) : (int64_t)json_real_value(ts);
    else
        chat_message_cleanup(m);
    return rc;
}

/* Fills list from a JSON array of messages (or {"messages": [...]}). */
static int list_from_json(json_t *arr, chat_message_list *list) {
    if (json_is_object(arr)) arr = json_object_get(arr, "messages");
    if (!json_is_array(arr)) return CHAT_ERR_PROTOCOL;
    size_t n = json_array_size(arr);
    list->items = calloc(n ? n : 1, sizeof *list->items);
    if (!list->items) return CHAT_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        int rc = chat__message_from_json(json_array_get(arr, i), &list->items[i]);
        if (rc != CHAT_OK) {
            chat_message_list_cleanup(list);
            return rc;
        }
        list->count = i + 1;
    }
    return CHAT_OK;
}

/* Records the words for a failed conversion of a 2xx body; returns rc. */
int chat__client_fail_parse(chat_client *c, int rc, const char *what) {
    if (rc == CHAT_ERR_NOMEM) return chat__client_fail(c, rc, "out of memory");
    return chat__client_fail(c, rc, "the server's answer is not a valid %s", what);
}

/* ---- client lifecycle and accessors ---- */

chat_client *chat_client_new(const char *base_url) {
    if (!base_url) return NULL;
    chat_client *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(c);
        return NULL;
    }
    c->curl_global = 1;
    c->timeout_ms = CHAT_DEFAULT_TIMEOUT_MS;
    c->retry_budget_ms = CHAT_DEFAULT_RETRY_BUDGET_MS;
    c->base_url = str_dup(base_url);
    c->curl = curl_easy_init();
    if (!c->base_url || !c->curl) {
        chat_client_free(c);
        return NULL;
    }
    size_t len = strlen(c->base_url);
    while (len > 0 && c->base_url[len - 1] == '/')
        c->base_url[--len] = '\0';
    return c;
}

void chat_client_free(chat_client *c) {
    if (!c) return;
    if (c->curl) curl_easy_cleanup(c->curl);
    if (c->curl_global) curl_global_cleanup(); /* after the handle */
    free(c->base_url);
    free(c->cacert);
    chat__secret_free(c->token);
    chat__secret_free(c->cookie_token);
    free(c->body.data);
    free(c);
}

/* Fails with CHAT_ERR_USAGE for a token that is not a plain cookie value. */
int chat_client_set_token(chat_client *c, const char *token) {
    if (!c) return CHAT_ERR_USAGE;
    char *copy = NULL;
    if (token && !token_is_valid(token))
        return chat__client_fail(c, CHAT_ERR_USAGE,
                                 "the session token is not a valid cookie value");
    if (token && !(copy = str_dup(token)))
        return chat__client_fail(c, CHAT_ERR_NOMEM, "out of memory");
    chat__secret_free(c->token);
    c->token = copy;
    c->error[0] = '\0';
    return CHAT_OK;
}

const char *chat_client_token(const chat_client *c) { return c ? c->token : NULL; }

const char *chat_client_error(const chat_client *c) { return c ? c->error : "no client"; }

int chat_client_status(const chat_client *c) { return c ? c->status : 0; }

/* A negative timeout restores the default; 0 means no timeout at all. */
void chat_client_set_timeout(chat_client *c, long timeout_ms) {
    if (c) c->timeout_ms = timeout_ms < 0 ? CHAT_DEFAULT_TIMEOUT_MS : timeout_ms;
}

int chat_client_set_cacert(chat_client *c, const char *path) {
    if (!c) return CHAT_ERR_USAGE;
    char *copy = NULL;
    if (path && !(copy = str_dup(path))) return chat__client_fail(c, CHAT_ERR_NOMEM, "out of memory");
    /* back to libcurl's default CA file: every other option is set again
     * for each request, and the connections stay */
    if (!copy && c->cacert) curl_easy_reset(c->curl);
    free(c->cacert);
    c->cacert = copy;
    return CHAT_OK;
}

/* A negative budget restores the default; 0 turns retries off. */
void chat_client_set_retry(chat_client *c, long budget_ms) {
    if (c) c->retry_budget_ms = budget_ms < 0 ? CHAT_DEFAULT_RETRY_BUDGET_MS : budget_ms;
}

unsigned chat_client_attempts(const chat_client *c) { return c ? c->attempts : 0; }

int chat_client_last_replayed(const chat_client *c) { return c ? c->replayed : 0; }

/* ---- the API calls ---- */

/* Adds key: value to a request body; CHAT_ERR_USAGE when value is not UTF-8. */
static int body_add(chat_client *c, json_t *body, const char *key, const char *value) {
    json_t *s = json_string(value);
    if (!s) return chat__client_fail(c, CHAT_ERR_USAGE, "the %s is not valid UTF-8", key);
    if (json_object_set_new(body, key, s) != 0)
        return chat__client_fail(c, CHAT_ERR_NOMEM, "out of memory");
    return CHAT_OK;
}

/* The body {"email", "password", "name"?} for register and login. */
static int body_credentials(chat_client *c, const char *email, const char *password,
                            const char *name, json_t **body) {
    *body = json_object();
    if (!*body) return chat__client_fail(c, CHAT_ERR_NOMEM, "out of memory");
    int rc = body_add(c, *body, "email", email);
    if (rc == CHAT_OK) rc = body_add(c, *body, "password", password);
    if (rc == CHAT_OK && name) rc = body_add(c, *body, "name", name);
    return rc;
}

/* Keeps the session token from the body's "authKey" or the Set-Cookie header. */
static int client_take_token(chat_client *c, json_t *root, int prefer_cookie) {
    const char *from_body = json_string_value(json_object_get(root, "authKey"));
    const char *first = prefer_cookie ? c->cookie_token : from_body;
    const char *second = prefer_cookie ? from_body : c->cookie_token;
    const char *token = first ? first : second;
    if (!token) return chat__client_fail(c, CHAT_ERR_PROTOCOL, "the server sent no session token");
    if (!token_is_valid(token))
        return chat__client_fail(c, CHAT_ERR_PROTOCOL, "the server sent an unusable session token");
    return chat_client_set_token(c, token);
}

/* Shared tail of register and login: runs req, keeps the token, fills out. */
static int client_authenticate(chat_client *c, const chat_request *req, int prefer_cookie,
                               chat_user *out) {
    json_t *root = NULL;
    chat_user user = {0};
    int rc = client_perform(c, req);
    if (rc == CHAT_OK) rc = client_body_json(c, &root);
    if (rc == CHAT_OK && (rc = user_from_json(root, &user)) != CHAT_OK)
        chat__client_fail_parse(c, rc, "user");
    if (rc == CHAT_OK) rc = client_take_token(c, root, prefer_cookie);
    if (rc == CHAT_OK && out)
        *out = user;
    else
        chat_user_cleanup(&user);
    json_decref(root);
    return rc;
}

/* Register (POST, token from the body) or login (PUT, token from the cookie). */
static int client_credentials_call(chat_client *c, const char *method, const char *email,
                                   const char *password, const char *name, chat_user *out) {
    if (out) memset(out, 0, sizeof *out);
    if (chat__client_begin(c) != CHAT_OK) return CHAT_ERR_USAGE;
    if (!email || !password)
        return chat__client_fail(c, CHAT_ERR_USAGE, "an e-mail address and a password are needed");
    json_t *body = NULL;
    int rc = body_credentials(c, email, password, name, &body);
    if (rc == CHAT_OK) {
        /* a repeated login only opens another session; a repeated
         * registration could meet its own first attempt as a 409 */
        int is_login = strcmp(method, "PUT") == 0;
        chat_request req = {method, "/user/", body, 0, is_login, NULL};
        rc = client_authenticate(c, &req, is_login, out);
    }
    json_decref(body);
    return rc;
}

int chat_register(chat_client *c, const char *email, const char *password, const char *name,
                  chat_user *out) {
    return client_credentials_call(c, "POST", email, password, name, out);
}

int chat_login(chat_client *c, const char *email, const char *password, chat_user *out) {
    return client_credentials_call(c, "PUT", email, password, NULL, out);
}

int chat_login_token(chat_client *c, const char *jwt, chat_user *out) {
    if (out) memset(out, 0, sizeof *out);
    if (chat__client_begin(c) != CHAT_OK) return CHAT_ERR_USAGE;
    if (!jwt || !*jwt) return chat__client_fail(c, CHAT_ERR_USAGE, "a token is needed");
    json_t *body = json_object();
    int rc = body ? body_add(c, body, "token", jwt)
                  : chat__client_fail(c, CHAT_ERR_NOMEM, "out of memory");
    if (rc == CHAT_OK) {
        chat_request req = {"POST", "/user/token", body, 0, 0, NULL};
        rc = client_authenticate(c, &req, 1, out);
    }
    json_decref(body);
    return rc;
}

/* Forgets the token after a 204 and also after a 401 (the session is gone
 * either way); keeps it after a network or server failure so one can retry. */
int chat_logout(chat_client *c) {
    if (chat__client_begin(c) != CHAT_OK) return CHAT_ERR_USAGE;
    if (!c->token) return chat__client_fail(c, CHAT_ERR_USAGE, "not logged in");
    chat_request req = {"DELETE", "/user/session", NULL, 1, 0, NULL};
    int rc = client_perform(c, &req);
    if (rc == CHAT_OK || rc == CHAT_ERR_AUTH) {
        chat__secret_free(c->token);
        c->token = NULL;
    }
    return rc;
}

int chat_send(chat_client *c, const char *text, chat_message *out) {
    return chat_send_with_id(c, text, NULL, out);
}

/* The body {"text", "clientMsgId", "replyTo"?} for a send. */
static int body_message(chat_client *c, const char *text, const char *client_msg_id,
                        const char *reply_to, json_t **body) {
    *body = json_object();
    if (!*body) return chat__client_fail(c, CHAT_ERR_NOMEM, "out of memory");
    int rc = body_add(c, *body, "text", text);
    if (rc == CHAT_OK) rc = body_add(c, *body, "clientMsgId", client_msg_id);
    if (rc == CHAT_OK && reply_to) rc = body_add(c, *body, "replyTo", reply_to);
    return rc;
}

static int send_to(chat_client *c, const char *path, const char *text,
                   const char *client_msg_id, const char *reply_to, chat_message *out);

int chat_send_with_id(chat_client *c, const char *text, const char *client_msg_id,
                      chat_message *out) {
    return send_to(c, "/message/", text, client_msg_id, NULL, out);
}

int chat_send_reply(chat_client *c, const char *room, const char *text, const char *reply_to,
                    chat_message *out) {
    char path[256];
    if (room && !chat_wire_room_valid(room)) {
        if (out) memset(out, 0, sizeof *out);
        return chat__client_fail(c, CHAT_ERR_USAGE, "a room name is 1 to 64 of a-z 0-9 _ -");
    }
    unsigned long long part[2];
    if (reply_to && chat_wire_stream_id_parse(reply_to, part) < 0) {
        if (out) memset(out, 0, sizeof *out);
        return chat__client_fail(c, CHAT_ERR_USAGE, "a message id is <ms>-<seq>");
    }
    snprintf(path, sizeof path, room ? "/room/%s/message/" : "/message/", room);
    return send_to(c, path, text, NULL, reply_to, out);
}

/* POST path: a send with a client message id (NULL: a new one). */
static int send_to(chat_client *c, const char *path, const char *text,
                   const char *client_msg_id, const char *reply_to, chat_message *out) {
    if (out) memset(out, 0, sizeof *out);
    if (chat__client_begin(c) != CHAT_OK) return CHAT_ERR_USAGE;
    if (!text) return chat__client_fail(c, CHAT_ERR_USAGE, "no text to send");
    if (!c->token) return chat__client_fail(c, CHAT_ERR_USAGE, "not logged in");
    if (client_msg_id && !chat_wire_client_msg_id_valid(client_msg_id, strlen(client_msg_id)))
        return chat__client_fail(c, CHAT_ERR_USAGE,
                                 "the client message id must be 1 to 64 of A-Z a-z 0-9 . _ : -");
    char generated[CHAT_MSG_ID_GEN_LEN + 1];
    if (!client_msg_id) {
        msg_id_generate(generated);
        client_msg_id = generated;
    }
    json_t *body = NULL, *root = NULL;
    chat_message msg = {0};
    int rc = body_message(c, text, client_msg_id, reply_to, &body);
    chat_request req = {"POST", path, body, 1, 1, client_msg_id};
    if (rc == CHAT_OK && (rc = client_perform(c, &req)) == CHAT_OK) rc = client_body_json(c, &root);
    if (rc == CHAT_OK && (rc = chat__message_from_json(root, &msg)) != CHAT_OK)
        chat__client_fail_parse(c, rc, "message");
    if (rc == CHAT_OK && out)
        *out = msg;
    else
        chat_message_cleanup(&msg);
    json_decref(root);
    json_decref(body);
    return rc;
}

/* "/message/" plus the after and limit query parameters, as a new string. */
static char *history_path(chat_client *c, const char *after, int limit) {
    char *escaped = after ? curl_easy_escape(c->curl, after, 0) : NULL;
    if (after && !escaped) return NULL;
    size_t len = sizeof "/message/?after=&limit=" + (escaped ? strlen(escaped) : 0) + 24;
    char *path = malloc(len);
    if (path) {
        int n = snprintf(path, len, "/message/");
        if (escaped) n += snprintf(path + n, len - (size_t)n, "?after=%s", escaped);
        if (limit > 0)
            snprintf(path + n, len - (size_t)n, "%climit=%d", escaped ? '&' : '?', limit);
    }
    curl_free(escaped);
    return path;
}

int chat_history(chat_client *c, const char *after, int limit, chat_message_list *out) {
    if (out) memset(out, 0, sizeof *out);
    if (chat__client_begin(c) != CHAT_OK) return CHAT_ERR_USAGE;
    if (!out || limit < 0)
        return chat__client_fail(c, CHAT_ERR_USAGE, "a result list and a limit >= 0 are needed");
    char *path = history_path(c, after, limit);
    if (!path) return chat__client_fail(c, CHAT_ERR_NOMEM, "out of memory");
    chat_request req = {"GET", path, NULL, 1, 1, NULL};
    json_t *root = NULL;
    int rc = client_perform(c, &req);
    if (rc == CHAT_OK) rc = client_body_json(c, &root);
    if (rc == CHAT_OK && (rc = list_from_json(root, out)) != CHAT_OK)
        chat__client_fail_parse(c, rc, "message list");
    json_decref(root);
    free(path);
    return rc;
}

/* ---- cleanup and names ---- */

void chat_user_cleanup(chat_user *u) {
    if (!u) return;
    free(u->id);
    free(u->email);
    free(u->name);
    memset(u, 0, sizeof *u);
}

void chat_message_cleanup(chat_message *m) {
    if (!m) return;
    free(m->id);
    free(m->user_id);
    free(m->name);
    free(m->text);
    free(m->event);
    free(m->target);
    free(m->role);
    free(m->action);
    free(m->reply_to);
    free(m->quote_name);
    free(m->quote_text);
    memset(m, 0, sizeof *m);
}

void chat_message_list_cleanup(chat_message_list *list) {
    if (!list) return;
    for (size_t i = 0; i < list->count; i++)
        chat_message_cleanup(&list->items[i]);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

const char *chat_err_name(int err) {
    static const char *const names[] = {
        "CHAT_OK",           "CHAT_ERR_NETWORK",   "CHAT_ERR_INVALID",     "CHAT_ERR_AUTH",
        "CHAT_ERR_CONFLICT", "CHAT_ERR_NOT_FOUND", "CHAT_ERR_UNAVAILABLE", "CHAT_ERR_SERVER",
        "CHAT_ERR_PROTOCOL", "CHAT_ERR_NOMEM",     "CHAT_ERR_USAGE",       "CHAT_ERR_RATE_LIMITED"};
    if (err > 0 || (size_t)-err >= sizeof names / sizeof names[0]) return "CHAT_ERR_UNKNOWN";
    return names[-err];
}
