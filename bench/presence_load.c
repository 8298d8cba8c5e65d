/*
 * presence_load: the load of make bench's presence scenario (bench/
 * scenario_presence.sh). Two modes:
 *
 *   presence_load sessions FIRST COUNT
 *       prints, as Redis protocol for `redis-cli --pipe`, the sessions (and
 *       the user records' ids) of the bench users FIRST .. FIRST+COUNT-1 (registering 11,000 users through
 *       POST /user/ would time Argon2id, not presence).
 *   presence_load run MEMBERS_URL CHURN_URL ROOM MEMBERS RATE SECONDS TYPING PID...
 *       opens MEMBERS streams of MEMBERS users with ?signals=1 on MEMBERS_URL
 *       and waits until the room counts them all; then for SECONDS makes RATE
 *       presence changes a second on CHURN_URL (new users' streams opened, the
 *       first half of the time, then, after a 3 s pause, closed; CPU and bytes
 *       are per second of changes, the pause's share included), then TYPING typing
 *       signals a second (sent to CHURN_URL) for SECONDS / 2. It prints, per phase, the CPU time
 *       of each PID (/proc, utime + stime), the bytes each member stream got
 *       per second, and how long a change took to reach the observers (the
 *       first 10 member streams): a presence change counts as arrived with the
 *       first presence event whose count includes it (the count moves one way
 *       in each half), a typing signal with its typing event.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "stream_pool.h"

#define OBSERVERS 10
#define TOKEN_CHARS 43
#define MAX_PIDS 8

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* User i's token (43 base64url characters), id (32 hex) and e-mail. */
static void token_of(int i, char out[TOKEN_CHARS + 1]) {
    snprintf(out, TOKEN_CHARS + 1, "presencebench%030d", i);
}
static void id_of(int i, char out[33]) { snprintf(out, 33, "%032x", i + 1); }

static void resp_arg(const char *s) { printf("$%zu\r\n%s\r\n", strlen(s), s); }

static int print_sessions(int first, int count) {
    for (int i = first; i < first + count; i++) {
        char token[TOKEN_CHARS + 1], id[33], key[100], value[200], hex[65];
        unsigned char digest[crypto_hash_sha256_BYTES];
        token_of(i, token);
        id_of(i, id);
        crypto_hash_sha256(digest, (const unsigned char *)token, strlen(token));
        sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
        snprintf(key, sizeof(key), "session:%s", hex);
        snprintf(value, sizeof(value), "v1\n%s\nu%d@presence.bench\nu%d", id, i, i);
        printf("*5\r\n");
        resp_arg("SET"), resp_arg(key), resp_arg(value), resp_arg("EX"), resp_arg("86400");
        snprintf(key, sizeof(key), "user:u%d@presence.bench", i); /* what a session read checks */
        printf("*4\r\n");
        resp_arg("HSET"), resp_arg(key), resp_arg("id"), resp_arg(id);
    }
    return 0;
}

/* What the streams saw. */
struct seen {
    int members;
    char *connected;              /* stream i said ": connected" */
    double bytes;                 /* on member streams, since the last reset */
    double *ev_ms;                /* presence events at observer 0: arrival */
    long long *ev_count;          /* and count */
    int nev, cap;
    double *typing_at;            /* typing events at observer o: [o * typing_max + k] */
    int typing_max;               /* signals sent at most, 0 before the typing phase */
    long long typing_n[OBSERVERS];
};

static void on_line(void *arg, int i, const char *line) {
    struct seen *s = arg;
    if (i < s->members) s->bytes += (double)strlen(line) + 1;
    if (strcmp(line, ": connected") == 0) s->connected[i] = 1;
    if (strncmp(line, "data: ", 6) != 0 || i >= OBSERVERS) return;
    if (strstr(line, "\"expiresIn\"")) {
        if (s->typing_n[i] < s->typing_max) s->typing_at[i * s->typing_max + s->typing_n[i]] = now_ms();
        s->typing_n[i]++;
        return;
    }
    const char *c = strstr(line, "\"count\":");
    if (!c || i != 0) return;
    if (s->nev == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->ev_ms = realloc(s->ev_ms, (size_t)s->cap * sizeof(*s->ev_ms));
        s->ev_count = realloc(s->ev_count, (size_t)s->cap * sizeof(*s->ev_count));
    }
    s->ev_ms[s->nev] = now_ms();
    s->ev_count[s->nev++] = atoll(c + 8);
}

/* CPU ms (utime + stime) of pid. */
static double cpu_ms(int pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(double *v, int n, double q) {
    if (n == 0) return -1;
    qsort(v, (size_t)n, sizeof(*v), compare_doubles);
    int k = (int)(q * (n - 1) + 0.5);
    return v[k];
}

/* POST /room/<room>/typing as user 0; the status. */
static int post_typing(const char *base, const char *room) {
    const char *colon = strrchr(base, ':');
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    char token[TOKEN_CHARS + 1], req[512], resp[64] = "";
    token_of(0, token);
    int n = snprintf(req, sizeof(req),
                     "POST /room/%s/typing HTTP/1.0\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: application/json\r\nContent-Length: 0\r\n\r\n",
                     room, token);
    ssize_t got = send(fd, req, (size_t)n, 0) == n ? recv(fd, resp, sizeof(resp) - 1, 0) : -1;
    close(fd);
    return got > 12 ? atoi(resp + 9) : -1;
}

struct run {
    const char *members_url, *churn_url, *room;
    int members, rate, seconds, typing;
    int pids[MAX_PIDS], npids;
    struct stream_pool *pool;
    struct seen seen;
};

static void pump_until(struct run *r, double until) {
    while (now_ms() < until) stream_pool_pump(r->pool, 1);
}

static void print_cpu(const char *phase, struct run *r, const double *before, double secs) {
    for (int k = 0; k < r->npids; k++)
        printf("%s_cpu_ms_per_s pid%d %.1f\n", phase, k, (cpu_ms(r->pids[k]) - before[k]) / secs);
}

/* Opens the members' streams, 500 at a time, each batch once the last is
 * connected (a burst of 10,000 at once can make a Redis command of a busy
 * box time out, and the stream fail); a stream that did not connect is
 * opened again. Then waits until observer 0 counts them all. */
static int open_members(struct run *r) {
    char path[256], token[TOKEN_CHARS + 1];
    snprintf(path, sizeof(path), "/room/%s/message/stream?signals=1", r->room);
    for (int pass = 0; pass < 3; pass++) {
        for (int from = 0; from < r->members; from += 500) {
            int to = from + 500 < r->members ? from + 500 : r->members;
            for (int i = from; i < to; i++) {
                if (r->seen.connected[i]) continue;
                stream_pool_close(r->pool, i);
                token_of(i, token);
                stream_pool_open_as(r->pool, i, r->members_url, path, token);
            }
            double until = now_ms() + 10000;
            for (int done = 0; !done && now_ms() < until;) {
                stream_pool_pump(r->pool, 10);
                done = 1;
                for (int i = from; i < to && done; i++) done = r->seen.connected[i];
            }
        }
    }
    double until = now_ms() + 120000;
    while (now_ms() < until) {
        stream_pool_pump(r->pool, 10);
        int n = r->seen.nev;
        if (n && r->seen.ev_count[n - 1] == r->members) return 0;
    }
    return -1;
}

/* The churn: joins for half the time, then as many leaves; per change the
 * time it was made and the count that includes it. */
static void churn(struct run *r) {
    int changes = r->rate * r->seconds, joins = changes / 2;
    double *t = calloc((size_t)changes, sizeof(*t)), *lat = calloc((size_t)changes, sizeof(*lat));
    double before[MAX_PIDS];
    for (int k = 0; k < r->npids; k++) before[k] = cpu_ms(r->pids[k]);
    r->seen.bytes = 0;
    int first_ev = r->seen.nev;
    double start = now_ms(), gap = 1000.0 / r->rate, began = start;
    char path[256], token[TOKEN_CHARS + 1];
    snprintf(path, sizeof(path), "/room/%s/message/stream", r->room);
    for (int c = 0; c < changes; c++) {
        if (c == joins) start += 3000; /* the count peaks before the leaves begin */
        pump_until(r, start + c * gap);
        int j = c < joins ? c : c - joins;
        t[c] = now_ms();
        if (c < joins) {
            token_of(r->members + j, token);
            stream_pool_open_as(r->pool, r->members + j, r->churn_url, path, token);
        } else {
            stream_pool_close(r->pool, r->members + j);
        }
    }
    double secs = (now_ms() - began) / 1000.0; /* the pause included */
    print_cpu("churn", r, before, secs);
    printf("churn_bytes_per_subscriber_per_s %.1f\n", r->seen.bytes / r->members / secs);
    printf("churn_events_per_subscriber_per_s %.2f\n", (r->seen.nev - first_ev) / secs);
    pump_until(r, now_ms() + 5000); /* the last changes' events */
    int nlat = 0, lost = 0;
    for (int c = 0; c < changes; c++) {
        long long target = c < joins ? r->members + c + 1 : r->members + joins - (c - joins) - 1;
        int e = first_ev;
        while (e < r->seen.nev && (r->seen.ev_ms[e] < t[c] ||
                                   (c < joins ? r->seen.ev_count[e] < target
                                              : r->seen.ev_count[e] > target)))
            e++;
        if (e == r->seen.nev) lost++;
        else lat[nlat++] = r->seen.ev_ms[e] - t[c];
    }
    printf("churn_changes %d\nchurn_unseen %d\n", changes, lost);
    printf("presence_p50_ms %.1f\npresence_p99_ms %.1f\n", percentile(lat, nlat, 0.5),
           percentile(lat, nlat, 0.99));
    free(t);
    free(lat);
}

/* Typing signals from user 0 at r->typing a second, paced; the k-th
 * typing event at an observer is the k-th signal (one sender, in order). */
static void typing(struct run *r) {
    int n = r->typing * r->seconds / 2, failed = 0, nlat = 0;
    double before[MAX_PIDS], *sent = calloc((size_t)n, sizeof(*sent));
    double *lat = calloc((size_t)n * OBSERVERS, sizeof(*lat));
    for (int k = 0; k < r->npids; k++) before[k] = cpu_ms(r->pids[k]);
    r->seen.bytes = 0;
    memset(r->seen.typing_n, 0, sizeof(r->seen.typing_n));
    r->seen.typing_at = calloc((size_t)n * OBSERVERS, sizeof(double));
    r->seen.typing_max = n;
    double start = now_ms(), gap = 1000.0 / r->typing;
    for (int c = 0; c < n; c++) {
        pump_until(r, start + c * gap);
        sent[c] = now_ms();
        /* on the other chatd, which has no member streams to write to */
        if (post_typing(r->churn_url, r->room) != 204) failed++;
        stream_pool_pump(r->pool, 0);
    }
    double secs = (now_ms() - start) / 1000.0;
    print_cpu("typing", r, before, secs);
    printf("typing_bytes_per_subscriber_per_s %.1f\ntyping_failed %d\n",
           r->seen.bytes / r->members / secs, failed);
    pump_until(r, now_ms() + 3000);
    int unseen = 0;
    for (int o = 0; o < OBSERVERS; o++) {
        unseen += n - (int)r->seen.typing_n[o];
        for (int k = 0; k < r->seen.typing_n[o] && k < n; k++)
            lat[nlat++] = r->seen.typing_at[o * n + k] - sent[k];
    }
    printf("typing_unseen %d\n", unseen);
    printf("typing_p50_ms %.1f\ntyping_p99_ms %.1f\n", percentile(lat, nlat, 0.5),
           percentile(lat, nlat, 0.99));
    free(sent);
    free(lat);
}

int main(int argc, char **argv) {
    if (sodium_init() < 0) return 1;
    if (argc == 4 && strcmp(argv[1], "sessions") == 0)
        return print_sessions(atoi(argv[2]), atoi(argv[3]));
    if (argc < 10 || strcmp(argv[1], "run") != 0) {
        fprintf(stderr, "usage: presence_load sessions FIRST COUNT\n"
                        "       presence_load run MEMBERS_URL CHURN_URL ROOM MEMBERS RATE "
                        "SECONDS TYPING PID...\n");
        return 2;
    }
    struct run r = {.members_url = argv[2], .churn_url = argv[3], .room = argv[4],
                    .members = atoi(argv[5]), .rate = atoi(argv[6]), .seconds = atoi(argv[7]),
                    .typing = atoi(argv[8])};
    for (int k = 9; k < argc && r.npids < MAX_PIDS; k++) r.pids[r.npids++] = atoi(argv[k]);
    r.seen.members = r.members;
    int joins = r.rate * r.seconds / 2;
    r.seen.connected = calloc((size_t)(r.members + joins), 1);
    if (!(r.pool = stream_pool_new(r.members + joins, on_line, &r.seen))) return 1;
    double t0 = now_ms();
    if (open_members(&r) < 0) {
        int connected = 0;
        for (int i = 0; i < r.members; i++) connected += r.seen.connected[i];
        fprintf(stderr, "presence_load: the room never counted %d members (%d connected, last count %lld)\n",
                r.members, connected, r.seen.nev ? r.seen.ev_count[r.seen.nev - 1] : -1);
        return 1;
    }
    printf("members_ready_s %.1f\n", (now_ms() - t0) / 1000.0);
    fflush(stdout);
    pump_until(&r, now_ms() + 2000);
    churn(&r);
    typing(&r);
    stream_pool_free(r.pool);
    free(r.seen.typing_at);
    free(r.seen.connected);
    free(r.seen.ev_ms);
    free(r.seen.ev_count);
    return 0;
}
