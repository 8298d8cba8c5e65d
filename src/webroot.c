/* webroot: the browser client's files, loaded at start-up (webroot.h). */
#include "webroot.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The one list of files served: URL path, file name, content type. */
static const struct {
    const char *path;         /* URL path */
    const char *name;         /* file name in the web root */
    const char *content_type; /* Content-Type header */
} table[] = {
    {"/", "index.html", "text/html; charset=utf-8"},
    {"/app.js", "app.js", "text/javascript; charset=utf-8"},
    {"/app.css", "app.css", "text/css; charset=utf-8"},
    {"/favicon.svg", "favicon.svg", "image/svg+xml"},
    {"/clusterchat.js", "clusterchat.js", "text/javascript; charset=utf-8"}, /* the JS client */
};
#define TABLE_SIZE (sizeof(table) / sizeof(table[0]))

struct webroot {
    struct web_file files[TABLE_SIZE]; /* one per table row, in its order */
};

/* Reads dir/name whole into f->data; -1 when missing, unreadable or too large. */
static int read_file(const char *dir, const char *name, struct web_file *f) {
    char path[1024];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) return -1;
    FILE *in = fopen(path, "rb");
    if (!in) return -1;
    char *data = malloc(WEBROOT_MAX_FILE + 1);
    size_t len = data ? fread(data, 1, WEBROOT_MAX_FILE + 1, in) : 0;
    bool ok = data && !ferror(in) && len <= WEBROOT_MAX_FILE;
    fclose(in);
    if (!ok) {
        free(data);
        return -1;
    }
    char *shrunk = realloc(data, len ? len : 1); /* give back the unused tail */
    if (shrunk) data = shrunk;
    f->data = data;
    f->len = len;
    return 0;
}

static void make_etag(struct web_file *f) {
    unsigned char hash[8];
    char hex[2 * sizeof(hash) + 1];
    crypto_generichash(hash, sizeof(hash), (const unsigned char *)f->data, f->len, NULL, 0);
    sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
    snprintf(f->etag, sizeof(f->etag), "\"%s\"", hex);
}

struct webroot *webroot_load(const char *dir, char *missing, size_t size) {
    struct webroot *w = calloc(1, sizeof(*w));
    if (!w) return NULL;
    if (size) missing[0] = '\0';
    for (size_t i = 0; i < TABLE_SIZE; i++) {
        struct web_file *f = &w->files[i];
        f->path = table[i].path;
        f->name = table[i].name;
        f->content_type = table[i].content_type;
        if (read_file(dir, f->name, f) == 0) {
            make_etag(f);
        } else if (size) {
            size_t used = strlen(missing);
            snprintf(missing + used, size - used, "%s%s", used ? "," : "", f->name);
        }
    }
    return w;
}

size_t webroot_loaded(const struct webroot *w) {
    size_t n = 0;
    for (size_t i = 0; w && i < TABLE_SIZE; i++) n += w->files[i].data != NULL;
    return n;
}

size_t webroot_known(void) { return TABLE_SIZE; }

const struct web_file *webroot_find(const struct webroot *w, const char *path) {
    for (size_t i = 0; w && i < TABLE_SIZE; i++)
        if (w->files[i].data && strcmp(w->files[i].path, path) == 0) return &w->files[i];
    return NULL;
}

bool webroot_etag_matches(const char *if_none_match, const char *etag) {
    if (!if_none_match) return false;
    size_t elen = strlen(etag);
    const char *p = if_none_match;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        if (*p == '*') return true;
        if (strncmp(p, "W/", 2) == 0) p += 2; /* weak comparison, as RFC 9110 wants here */
        const char *end = p;
        if (*p == '"') {
            end = strchr(p + 1, '"');
            if (!end) return false;
            end++;
        } else {
            while (*end && *end != ',') end++;
        }
        const char *after = end;
        while (*after == ' ' || *after == '\t') after++;
        bool whole = *after == ',' || *after == '\0'; /* nothing else after the tag */
        if (whole && (size_t)(end - p) == elen && strncmp(p, etag, elen) == 0) return true;
        p = after;
        while (*p && *p != ',') p++;
    }
    return false;
}

void webroot_free(struct webroot *w) {
    if (!w) return;
    for (size_t i = 0; i < TABLE_SIZE; i++) free(w->files[i].data);
    free(w);
}
