/*
 * webroot: the browser client's files (index.html, app.js, app.css, the
 * icon), read once at start-up from the --web-root folder into memory, each
 * with its content type and an ETag. Only the names in the fixed table of
 * webroot.c are ever read or served, so no request path can reach another
 * file. Also the If-None-Match check (pure).
 */
#ifndef CHAT_WEBROOT_H
#define CHAT_WEBROOT_H

#include <stdbool.h>
#include <stddef.h>

#define WEBROOT_MAX_FILE (1024 * 1024) /* larger files are not loaded */

/* One file as it is served. */
struct web_file {
    const char *path;         /* the URL path it is served at ("/", "/app.js") */
    const char *name;         /* its name in the web root folder */
    const char *content_type; /* the Content-Type header */
    char *data;               /* its bytes (heap), NULL when it was not loaded */
    size_t len;               /* their number */
    char etag[20];            /* "\"<16 hex digits>\"": a hash of the bytes */
};

struct webroot;

/* Reads every file of the table from folder dir. A file that is missing,
 * unreadable or larger than WEBROOT_MAX_FILE is left out (and answered
 * 404); its name is appended to missing (size bytes, comma-separated).
 * NULL only when out of memory. */
struct webroot *webroot_load(const char *dir, char *missing, size_t size);

/* Files loaded, and files in the table. */
size_t webroot_loaded(const struct webroot *w);
size_t webroot_known(void);

/* The loaded file served at URL path, or NULL. */
const struct web_file *webroot_find(const struct webroot *w, const char *path);

/* Whether an If-None-Match header value ("\"a\", W/\"b\"" or "*") names
 * etag, so that the client's copy is current (304). NULL: no. */
bool webroot_etag_matches(const char *if_none_match, const char *etag);

void webroot_free(struct webroot *w); /* NULL is fine */

#endif
