/* testlib: environment, unique users, raw HTTP and /proc readings for tests. */
#include "testlib.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

const char *test_url(void) {
    const char *u = getenv("CHAT_URL");
    return u ? u : "http://127.0.0.1:8182";
}

int test_chatd_pid(void) {
    const char *p = getenv("CHATD_PID");
    return p ? atoi(p) : -1;
}

int test_redis_port(void) {
    const char *p = getenv("CHAT_REDIS_PORT");
    return p ? atoi(p) : 6379;
}

bool test_sanitized(void) {
    const char *s = getenv("CHAT_SANITIZED");
    return s && *s && strcmp(s, "0") != 0;
}

void test_email(char *out, size_t size, const char *tag) {
    static unsigned counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(out, size, "%s-%u-%ld-%ld@example.com", tag, __atomic_add_fetch(&counter, 1, __ATOMIC_SEQ_CST),
             (long)getpid(), (long)(ts.tv_nsec % 1000000));
}

void test_json_member(const char *text, const char *key, char *out, size_t size) {
    char needle[64];
    snprintf(needle, sizeof(needle), "\"%s\":\"", key);
    const char *p = strstr(text, needle);
    out[0] = '\0';
    if (!p) return;
    p += strlen(needle);
    size_t len = strcspn(p, "\"");
    snprintf(out, size, "%.*s", (int)(len < size ? len : size - 1), p);
}

chat_client *test_new_user(const char *tag, chat_user *user_out) {
    char email[128];
    test_email(email, sizeof(email), tag);
    chat_client *c = chat_client_new(test_url());
    if (!c) return NULL;
    if (chat_register(c, email, "correct horse battery", tag, user_out) != CHAT_OK) {
        chat_client_free(c);
        return NULL;
    }
    return c;
}

long test_create_room_at(const char *base, chat_client *c, const char *room) {
    char cookie[128], body[128];
    snprintf(cookie, sizeof(cookie), "Cookie: authKey=%s", chat_client_token(c));
    snprintf(body, sizeof(body), "{\"name\":\"%s\"}", room);
    const char *h[] = {"Content-Type: application/json", cookie, NULL};
    struct http_result r;
    if (test_http_at(base ? base : test_url(), "POST", "/room/", h, body, strlen(body), &r) < 0)
        return -1;
    long status = r.status;
    test_http_result_free(&r);
    return status;
}

long test_call_as(chat_client *c, const char *method, const char *path, const char *body,
                  struct http_result *out) {
    return test_call_at(NULL, c, method, path, body, out);
}

long test_call_at(const char *base, chat_client *c, const char *method, const char *path,
                  const char *body, struct http_result *out) {
    char auth[160];
    const char *h[3] = {"Content-Type: application/json", NULL, NULL};
    if (c) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", chat_client_token(c));
        h[1] = auth;
    }
    struct http_result r;
    if (test_http_at(base ? base : test_url(), method, path, h, body, body ? strlen(body) : 0,
                     &r) < 0)
        return -1;
    long status = r.status;
    if (out) *out = r;
    else test_http_result_free(&r);
    return status;
}

long test_call_code(chat_client *c, const char *method, const char *path, const char *body,
                    const char *code) {
    struct http_result r;
    long status = test_call_as(c, method, path, body, &r);
    if (status < 0) return -1; /* no answer: nothing to free */
    if (!test_is_error(r.body, code)) {
        fprintf(stderr, "# %s %s: wanted %s, got %ld %s\n", method, path, code, status,
                r.body ? r.body : "");
        status = -1;
    }
    test_http_result_free(&r);
    return status;
}

long test_create_room(chat_client *c, const char *room) { return test_create_room_at(NULL, c, room); }

int test_private_room(chat_client *owner, const char *room, const char *member_email) {
    char body[256], path[128];
    snprintf(body, sizeof(body), "{\"name\":\"%s\",\"kind\":\"private\"}", room);
    if (test_call_as(owner, "POST", "/room/", body, NULL) != 201) return -1;
    if (!member_email) return 0;
    snprintf(path, sizeof(path), "/room/%s/member", room);
    snprintf(body, sizeof(body), "{\"email\":\"%s\"}", member_email);
    return test_call_as(owner, "POST", path, body, NULL) == 200 ? 0 : -1;
}

struct growbuf {
    char *data;
    size_t len, cap;
};

static size_t grow_write(char *ptr, size_t size, size_t nmemb, void *arg) {
    struct growbuf *b = arg;
    size_t n = size * nmemb;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) return 0;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

int test_http(const char *method, const char *path, const char *const *headers,
              const char *body, size_t body_len, struct http_result *out) {
    return test_http_at(test_url(), method, path, headers, body, body_len, out);
}

int test_http_at(const char *base, const char *method, const char *path,
                 const char *const *headers, const char *body, size_t body_len,
                 struct http_result *out) {
    memset(out, 0, sizeof(*out));
    CURL *curl = curl_easy_init();
    if (!curl) return -1;
    char url[1024];
    snprintf(url, sizeof(url), "%s%s", base, path);
    struct curl_slist *list = NULL;
    for (size_t i = 0; headers && headers[i]; i++) list = curl_slist_append(list, headers[i]);
    struct growbuf b = {0}, h = {0};
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, grow_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, grow_write);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &h);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    CURLcode rc = curl_easy_perform(curl);
    if (rc == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
    out->body = b.data ? b.data : calloc(1, 1);
    out->body_len = b.len;
    out->headers = h.data ? h.data : calloc(1, 1);
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    return rc == CURLE_OK ? 0 : -1;
}

void test_http_result_free(struct http_result *r) {
    free(r->body);
    free(r->headers);
    memset(r, 0, sizeof(*r));
}

long long test_metric(const char *base, const char *sample) {
    struct http_result r;
    if (test_http_at(base, "GET", "/metrics", NULL, NULL, 0, &r) < 0) return -1;
    long long value = -1;
    size_t len = strlen(sample);
    for (char *line = r.body; line && *line;) {
        char *next = strchr(line, '\n');
        if (strncmp(line, sample, len) == 0 && line[len] == ' ') {
            value = atoll(line + len + 1);
            break;
        }
        line = next ? next + 1 : NULL;
    }
    test_http_result_free(&r);
    return value;
}

bool test_is_error(const char *body, const char *code) {
    json_error_t err;
    json_t *v = json_loads(body, 0, &err);
    const char *got = NULL, *message = NULL;
    bool ok = json_unpack(v, "{s:{s:s, s:s}}", "error", "code", &got, "message", &message) == 0 &&
              strcmp(got, code) == 0 && message[0] != '\0';
    json_decref(v);
    return ok;
}

double test_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

int test_port(void) {
    const char *colon = strrchr(test_url(), ':');
    return colon ? atoi(colon + 1) : 8182;
}

int test_raw_connect(int rcvbuf) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)test_port())};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (fd >= 0 && rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

void test_raw_send(int fd, const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0) return; /* the server may close early: that is allowed */
        data += n;
        len -= (size_t)n;
    }
}

long test_chatd_rss_kb(void) {
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", test_chatd_pid());
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kb = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
    fclose(f);
    return kb;
}
