/* sse_client: a threaded libcurl Server-Sent Events reader for tests. */
#include "sse_client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sse_client {
    char *url;
    char last_id[SSE_ID_MAX];   /* sent as Last-Event-ID */
    char *token;                /* sent as a Bearer session token, or NULL */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct sse_event *events;
    size_t n, cap;
    bool ended;                 /* the transfer is over */
    volatile bool stop;         /* asked to stop */
    char line[16384];           /* the line being read */
    size_t line_len;
    char cur_id[SSE_ID_MAX];    /* the event being read */
    char seen_id[SSE_ID_MAX];   /* the last id of a complete block */
    char *cur_data;
    char cur_event[64];         /* its "event:" name, "" for none */
};

static void add_event(struct sse_client *c) {
    pthread_mutex_lock(&c->lock);
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->events = realloc(c->events, c->cap * sizeof(*c->events));
    }
    struct sse_event *e = &c->events[c->n++];
    e->id = strdup(c->cur_id);
    e->data = c->cur_data;
    e->event = strdup(c->cur_event);
    c->cur_data = NULL;
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
}

/* One complete line: "id: x", "data: y", "" ends an event, ":" is a comment. */
static void on_line(struct sse_client *c, const char *line) {
    if (line[0] == '\0') {
        if (c->cur_id[0]) {
            pthread_mutex_lock(&c->lock);
            memcpy(c->seen_id, c->cur_id, sizeof(c->seen_id));
            pthread_cond_broadcast(&c->changed);
            pthread_mutex_unlock(&c->lock);
        }
        if (c->cur_data) add_event(c);
        c->cur_id[0] = '\0';
        c->cur_event[0] = '\0';
    } else if (strncmp(line, "id: ", 4) == 0) {
        strncpy(c->cur_id, line + 4, sizeof(c->cur_id) - 1);
    } else if (strncmp(line, "event: ", 7) == 0) {
        snprintf(c->cur_event, sizeof(c->cur_event), "%s", line + 7);
    } else if (strncmp(line, "data: ", 6) == 0 && !c->cur_data) {
        c->cur_data = strdup(line + 6);
    }
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg) {
    struct sse_client *c = arg;
    size_t n = size * nmemb;
    if (c->stop) return 0;
    for (size_t i = 0; i < n; i++) {
        if (ptr[i] == '\n') {
            c->line[c->line_len] = '\0';
            on_line(c, c->line);
            c->line_len = 0;
        } else if (c->line_len + 1 < sizeof(c->line)) {
            c->line[c->line_len++] = ptr[i];
        }
    }
    return n;
}

static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c2, curl_off_t d) {
    (void)a, (void)b, (void)c2, (void)d;
    return ((struct sse_client *)arg)->stop ? 1 : 0;
}

static void *run(void *arg) {
    struct sse_client *c = arg;
    CURL *curl = curl_easy_init();
    struct curl_slist *h = NULL;
    char header[SSE_ID_MAX + 32];
    if (c->last_id[0]) {
        snprintf(header, sizeof(header), "Last-Event-ID: %s", c->last_id);
        h = curl_slist_append(h, header);
    }
    if (c->token) {
        snprintf(header, sizeof(header), "Authorization: Bearer %s", c->token);
        h = curl_slist_append(h, header);
    }
    curl_easy_setopt(curl, CURLOPT_URL, c->url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, c);
    curl_easy_perform(curl);
    curl_slist_free_all(h);
    curl_easy_cleanup(curl);
    pthread_mutex_lock(&c->lock);
    c->ended = true;
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

struct sse_client *sse_open(const char *url, const char *last_id) {
    return sse_open_as(url, last_id, NULL);
}

struct sse_client *sse_open_as(const char *url, const char *last_id, const char *token) {
    struct sse_client *c = calloc(1, sizeof(*c));
    c->url = strdup(url);
    c->token = token ? strdup(token) : NULL;
    if (last_id) strncpy(c->last_id, last_id, sizeof(c->last_id) - 1);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->changed, NULL);
    pthread_create(&c->thread, NULL, run, c);
    return c;
}

/* What a waiter waits for: n events, an id, or the end. */
enum wait_for { WAIT_EVENTS, WAIT_ID, WAIT_END };

static bool reached(const struct sse_client *c, enum wait_for what, size_t n) {
    if (what == WAIT_EVENTS) return c->n >= n;
    if (what == WAIT_ID) return c->seen_id[0] != '\0';
    return c->ended;
}

static bool wait_until(struct sse_client *c, size_t n, enum wait_for what, int timeout_ms) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) deadline.tv_sec++, deadline.tv_nsec -= 1000000000;
    pthread_mutex_lock(&c->lock);
    int rc = 0;
    while (rc == 0 && !c->ended && !reached(c, what, n))
        rc = pthread_cond_timedwait(&c->changed, &c->lock, &deadline);
    bool ok = reached(c, what, n);
    pthread_mutex_unlock(&c->lock);
    return ok;
}

bool sse_wait_events(struct sse_client *c, size_t n, int timeout_ms) {
    return wait_until(c, n, WAIT_EVENTS, timeout_ms);
}

bool sse_wait_id(struct sse_client *c, int timeout_ms) { return wait_until(c, 0, WAIT_ID, timeout_ms); }

bool sse_wait_end(struct sse_client *c, int timeout_ms) {
    return wait_until(c, 0, WAIT_END, timeout_ms);
}

size_t sse_count(struct sse_client *c) {
    pthread_mutex_lock(&c->lock);
    size_t n = c->n;
    pthread_mutex_unlock(&c->lock);
    return n;
}

bool sse_get(struct sse_client *c, size_t i, char id[48], char *data, size_t size) {
    pthread_mutex_lock(&c->lock);
    bool ok = i < c->n;
    if (ok) {
        snprintf(id, 48, "%s", c->events[i].id);
        snprintf(data, size, "%s", c->events[i].data ? c->events[i].data : "");
    }
    pthread_mutex_unlock(&c->lock);
    return ok;
}

bool sse_get_event(struct sse_client *c, size_t i, char *event, size_t size) {
    pthread_mutex_lock(&c->lock);
    bool ok = i < c->n;
    if (ok) snprintf(event, size, "%s", c->events[i].event ? c->events[i].event : "");
    pthread_mutex_unlock(&c->lock);
    return ok;
}

bool sse_get_id(struct sse_client *c, size_t i, char *id, size_t size) {
    pthread_mutex_lock(&c->lock);
    bool ok = i < c->n;
    if (ok) snprintf(id, size, "%s", c->events[i].id);
    pthread_mutex_unlock(&c->lock);
    return ok;
}

void sse_last_id(struct sse_client *c, char *id, size_t size) {
    pthread_mutex_lock(&c->lock);
    snprintf(id, size, "%s", c->seen_id);
    pthread_mutex_unlock(&c->lock);
}

void sse_close(struct sse_client *c) {
    if (!c) return;
    c->stop = true;
    pthread_join(c->thread, NULL);
    for (size_t i = 0; i < c->n; i++) free(c->events[i].id), free(c->events[i].data), free(c->events[i].event);
    free(c->events);
    free(c->cur_data);
    free(c->url);
    free(c->token);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->changed);
    free(c);
}
