/* webhook_http: libcurl's multi interface on the libevent loop. */
#include "webhook_http.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

struct webhook_http {
    struct event_base *base;
    CURLM *multi;
    struct event *timer; /* curl's timeout */
    size_t running;      /* requests added and not finished */
    struct post *posts;  /* those requests, newest first */
};

/* One request: its easy handle and what done needs. */
struct post {
    struct webhook_http *h;
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    webhook_http_fn *done;
    void *arg;
    struct post *prev, *next; /* in h->posts */
    char error[CURL_ERROR_SIZE];
};

/* The watch of one socket curl uses. */
struct watch {
    struct event *ev;
};

/* Frees p (already out of h->posts) and runs its callback. */
static void complete(struct post *p, int status, const char *error) {
    struct webhook_http *h = p->h;
    curl_multi_remove_handle(h->multi, p->easy);
    curl_easy_cleanup(p->easy);
    curl_slist_free_all(p->headers);
    free(p->body);
    h->running--;
    p->done(status, error, p->arg);
    free(p);
}

static void finish(struct post *p, int status, const char *error) {
    struct webhook_http *h = p->h;
    if (p->prev)
        p->prev->next = p->next;
    else
        h->posts = p->next;
    if (p->next) p->next->prev = p->prev;
    complete(p, status, error);
}

/* Hands every finished transfer to its callback. */
static void collect(struct webhook_http *h) {
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(h->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        struct post *p = NULL;
        long status = 0;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&p);
        CURLcode rc = msg->data.result;
        if (rc == CURLE_OK) curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        const char *error = rc == CURLE_OK ? NULL : p->error[0] ? p->error : curl_easy_strerror(rc);
        finish(p, (int)status, error);
    }
}

static void on_socket_ready(evutil_socket_t fd, short what, void *arg) {
    struct webhook_http *h = arg;
    int flags =
        ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    int still;
    curl_multi_socket_action(h->multi, fd, flags, &still);
    collect(h);
}

static void on_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd, (void)what;
    struct webhook_http *h = arg;
    int still;
    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &still);
    collect(h);
}

/* CURLMOPT_SOCKETFUNCTION: watch s for what curl wants, or stop. */
static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp) {
    (void)easy;
    struct webhook_http *h = userp;
    struct watch *w = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (w) event_free(w->ev);
        free(w);
        curl_multi_assign(h->multi, s, NULL);
        return 0;
    }
    if (!w) {
        w = calloc(1, sizeof(*w));
        if (!w) return -1;
        curl_multi_assign(h->multi, s, w);
    } else {
        event_free(w->ev);
    }
    short events = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
                   ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
    w->ev = event_new(h->base, s, events, on_socket_ready, h);
    return w->ev && event_add(w->ev, NULL) == 0 ? 0 : -1;
}

/* CURLMOPT_TIMERFUNCTION: run curl's timeout in ms (-1: none). */
static int on_timer_wanted(CURLM *multi, long ms, void *userp) {
    (void)multi;
    struct webhook_http *h = userp;
    if (ms < 0) {
        event_del(h->timer);
        return 0;
    }
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return event_add(h->timer, &tv);
}

struct webhook_http *webhook_http_new(struct event_base *base) {
    struct webhook_http *h = calloc(1, sizeof(*h));
    if (!h) return NULL;
    h->base = base;
    h->multi = curl_multi_init();
    h->timer = evtimer_new(base, on_timer, h);
    if (!h->multi || !h->timer) {
        webhook_http_free(h);
        return NULL;
    }
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer_wanted);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    return h;
}

void webhook_http_free(struct webhook_http *h) {
    if (!h) return;
    while (h->posts) {
        struct post *p = h->posts;
        h->posts = p->next;
        if (h->posts) h->posts->prev = NULL;
        complete(p, 0, "chatd is stopping");
    }
    if (h->multi) curl_multi_cleanup(h->multi);
    if (h->timer) event_free(h->timer);
    free(h);
}

/* A new easy handle for p's POST; -1 when one setting fails. */
static int set_up(struct post *p, const char *url, size_t len, int timeout_ms) {
    CURL *e = p->easy;
    int bad = curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, p) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, p->headers) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, p->body) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, p->error) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, "clusterchat-webhooks/1") != CURLE_OK;
    return bad ? -1 : 0;
}

/* Discards the receiver's answer body: only its status counts. */
static size_t discard(const char *data, size_t size, size_t n, void *arg) {
    (void)data, (void)arg;
    return size * n;
}

int webhook_http_post(struct webhook_http *h, const char *url, const char *const *headers,
                      const char *body, size_t len, int timeout_ms, webhook_http_fn *done,
                      void *arg) {
    struct post *p = calloc(1, sizeof(*p));
    if (!p) return -1;
    *p = (struct post){
        .h = h, .easy = curl_easy_init(), .body = malloc(len + 1), .done = done, .arg = arg};
    int ok = p->easy && p->body;
    for (size_t i = 0; ok && headers[i]; i++) {
        struct curl_slist *more = curl_slist_append(p->headers, headers[i]);
        if (more)
            p->headers = more;
        else
            ok = 0;
    }
    if (ok) memcpy(p->body, body, len), p->body[len] = '\0';
    ok = ok && set_up(p, url, len, timeout_ms) == 0 &&
         curl_easy_setopt(p->easy, CURLOPT_WRITEFUNCTION, discard) == CURLE_OK &&
         curl_multi_add_handle(h->multi, p->easy) == CURLM_OK;
    if (!ok) {
        curl_easy_cleanup(p->easy);
        curl_slist_free_all(p->headers);
        free(p->body);
        free(p);
        return -1;
    }
    h->running++;
    p->next = h->posts;
    if (h->posts) h->posts->prev = p;
    h->posts = p;
    return 0;
}

size_t webhook_http_running(const struct webhook_http *h) { return h ? h->running : 0; }
