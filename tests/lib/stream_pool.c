/* stream_pool: thousands of raw HTTP event streams read with poll(). */
#include "stream_pool.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4096 /* a longer line is cut into pieces */
#define FD_SPARE 256        /* descriptors the rest of the test needs */

struct pool_stream {
    bool ready; /* the caller saw the line it waits for */
    size_t len; /* bytes of an unfinished line in buf */
    char buf[LINE_MAX_BYTES];
};

struct stream_pool {
    int count;
    stream_line_fn on_line;
    void *arg;
    int ready, ended;   /* streams marked ready, streams ended */
    struct pollfd *fds; /* fd -1: not open (poll skips it) */
    struct pool_stream *streams;
};

/* Raises the soft open-file limit to need when it is lower; false when
 * even the hard limit is. */
static bool open_files_for(rlim_t need) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return false;
    if (rl.rlim_cur >= need) return true;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
    return setrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur >= need;
}

struct stream_pool *stream_pool_new(int count, stream_line_fn on_line, void *arg) {
    if (!open_files_for((rlim_t)count + FD_SPARE)) {
        fprintf(stderr, "stream_pool: %d streams need more open files than the hard limit\n",
                count);
        return NULL;
    }
    struct stream_pool *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->count = count;
    p->on_line = on_line;
    p->arg = arg;
    p->fds = calloc((size_t)count, sizeof(*p->fds));
    p->streams = calloc((size_t)count, sizeof(*p->streams));
    if (!p->fds || !p->streams) {
        stream_pool_free(p);
        return NULL;
    }
    for (int i = 0; i < count; i++)
        p->fds[i] = (struct pollfd){.fd = -1, .events = POLLIN};
    return p;
}

void stream_pool_free(struct stream_pool *p) {
    if (!p) return;
    for (int i = 0; p->fds && i < p->count; i++)
        if (p->fds[i].fd >= 0) close(p->fds[i].fd);
    free(p->fds);
    free(p->streams);
    free(p);
}

static int port_of(const char *base) {
    const char *colon = strrchr(base, ':');
    return colon ? atoi(colon + 1) : -1;
}

int stream_pool_open(struct stream_pool *p, int i, const char *base, const char *path) {
    return stream_pool_open_as(p, i, base, path, NULL);
}

int stream_pool_open_as(struct stream_pool *p, int i, const char *base, const char *path,
                        const char *token) {
    /* close-on-exec: the nodes a test restarts must not inherit (and keep
     * open) the streams */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port_of(base))};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    char req[LINE_MAX_BYTES];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.0\r\nAccept: text/event-stream\r\n%s%s%s\r\n", path,
                     token ? "Authorization: Bearer " : "", token ? token : "", token ? "\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof(req) || send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    p->fds[i].fd = fd;
    return 0;
}

/* Hands every complete line in s->buf to the callback, keeps the rest. */
static void split_lines(struct stream_pool *p, int i, struct pool_stream *s) {
    char *start = s->buf, *nl;
    while ((nl = memchr(start, '\n', s->len - (size_t)(start - s->buf)))) {
        *nl = '\0';
        if (nl > start && nl[-1] == '\r') nl[-1] = '\0';
        p->on_line(p->arg, i, start);
        start = nl + 1;
    }
    s->len -= (size_t)(start - s->buf);
    memmove(s->buf, start, s->len);
    if (s->len == sizeof(s->buf)) { /* no line end in a full buffer: hand it over cut */
        s->buf[s->len - 1] = '\0';
        p->on_line(p->arg, i, s->buf);
        s->len = 0;
    }
}

static void read_stream(struct stream_pool *p, int i) {
    struct pool_stream *s = &p->streams[i];
    ssize_t n;
    while ((n = recv(p->fds[i].fd, s->buf + s->len, sizeof(s->buf) - s->len, 0)) > 0) {
        s->len += (size_t)n;
        split_lines(p, i, s);
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        close(p->fds[i].fd);
        p->fds[i].fd = -1;
        p->ended++;
    }
}

void stream_pool_pump(struct stream_pool *p, int ms) {
    if (poll(p->fds, (nfds_t)p->count, ms) <= 0) return;
    for (int i = 0; i < p->count; i++)
        if (p->fds[i].fd >= 0 && p->fds[i].revents) read_stream(p, i);
}

void stream_pool_close(struct stream_pool *p, int i) {
    if (p->fds[i].fd < 0) return;
    close(p->fds[i].fd);
    p->fds[i].fd = -1;
    p->streams[i].len = 0;
    if (p->streams[i].ready) p->ready--;
    p->streams[i].ready = false;
}

void stream_pool_set_ready(struct stream_pool *p, int i) {
    if (p->streams[i].ready) return;
    p->streams[i].ready = true;
    p->ready++;
}

int stream_pool_ready(const struct stream_pool *p) { return p->ready; }

int stream_pool_ended(const struct stream_pool *p) { return p->ended; }
