/* http_batch: many JSON POSTs in parallel over kept-alive connections. */
#include "http_batch.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#define PATH_BYTES 512
#define BODY_BYTES 1024

/* One transfer in flight: its easy handle and its request's buffers. */
struct batch_slot {
    CURL *easy;
    int request;           /* the index of the request it carries */
    char body[BODY_BYTES]; /* libcurl sends it from here (POSTFIELDS) */
};

/* The whole batch. */
struct batch {
    CURLM *multi;
    struct curl_slist *headers;
    const char *const *bases;
    int nbases, n, next; /* next: the first request not started */
    http_batch_make_fn make;
    void *arg;
    long *status;
};

static size_t discard(char *ptr, size_t size, size_t nmemb, void *arg) {
    (void)ptr, (void)arg;
    return size * nmemb;
}

/* Starts the next request on slot s; false when none is left. */
static bool start_next(struct batch *b, struct batch_slot *s) {
    if (b->next >= b->n) return false;
    char path[PATH_BYTES], url[PATH_BYTES + 256];
    s->request = b->next++;
    b->make(b->arg, s->request, path, sizeof(path), s->body, sizeof(s->body));
    snprintf(url, sizeof(url), "%s%s", b->bases[s->request % b->nbases], path);
    curl_easy_setopt(s->easy, CURLOPT_URL, url);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->body);
    curl_multi_add_handle(b->multi, s->easy);
    return true;
}

static CURL *new_easy(struct batch *b, struct batch_slot *s) {
    CURL *e = curl_easy_init();
    if (!e) return NULL;
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, b->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, s);
    return e;
}

/* Takes the finished transfers' statuses and starts the next requests. */
static void collect(struct batch *b, int *running, int *ok) {
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(b->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        struct batch_slot *s;
        long code = 0;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        if (m->data.result == CURLE_OK) curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
        b->status[s->request] = code;
        *ok += code >= 200 && code < 300;
        curl_multi_remove_handle(b->multi, s->easy);
        if (!start_next(b, s)) (*running)--;
    }
}

int http_batch_post(const char *const *bases, int nbases, int n, int parallel, const char *extra,
                    http_batch_make_fn make, void *arg, long *status) {
    struct batch b = {.multi = curl_multi_init(),
                      .bases = bases,
                      .nbases = nbases,
                      .n = n,
                      .make = make,
                      .arg = arg,
                      .status = status};
    struct batch_slot *slots = calloc((size_t)parallel, sizeof(*slots));
    b.headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (extra) b.headers = curl_slist_append(b.headers, extra);
    int ok = -1, running = 0;
    if (!b.multi || !slots || !b.headers) goto done;
    ok = 0;
    for (int i = 0; i < parallel; i++)
        if ((slots[i].easy = new_easy(&b, &slots[i])) && start_next(&b, &slots[i])) running++;
    while (running > 0) {
        int active;
        curl_multi_perform(b.multi, &active);
        collect(&b, &running, &ok);
        if (running > 0) curl_multi_poll(b.multi, NULL, 0, 1000, NULL);
    }
done:
    for (int i = 0; slots && i < parallel; i++)
        curl_easy_cleanup(slots[i].easy);
    free(slots);
    curl_slist_free_all(b.headers);
    curl_multi_cleanup(b.multi);
    return ok;
}
