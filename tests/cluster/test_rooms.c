/*
 * test_rooms: 100,000 rooms on the cluster, followed over the multi-room
 * stream (GET /stream?rooms=, 32 rooms each: 3,125 streams) spread over the
 * three chatd of the suite. Their Redis connections must not grow with the
 * rooms (each chatd follows its rooms' doorbells on one connection per
 * master). Then messages go into rooms all over the slot space, from three
 * senders at once (one per chatd), while slots move (redis-cli --cluster
 * reshard) and a master is killed: every acknowledged message reaches the
 * stream holding its room exactly once, and every message a stream carries
 * is one that was sent, into a room of that stream.
 *
 * A send is retried until acknowledged, always with the same clientMsgId,
 * so that a retry of a write that was stored after all (its answer lost in
 * the failover) is not a second message. A send never acknowledged may
 * still have been stored: it may arrive, at most once, and counts for
 * nothing. One exception, as docs/STORAGE.md describes it: a write the
 * killed master took and a stream delivered before a replica had it is
 * lost with the master, and the retry stores it again under the id that is
 * acknowledged; the stream then carries the text under both ids. So each
 * acknowledged message must arrive exactly once under its acknowledged id,
 * and deliveries under another id (at most one per sender, the write it
 * had in flight at the kill) are counted and reported.
 *
 * The rooms are created through the API (POST /room/, many at once over
 * kept-alive connections). The whole test takes about 20 s on two busy
 * cores, under the sanitizers too (most of it the room creation and the
 * failover), so both builds run the full count.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chatclient.h"
#include "clusterlib.h"
#include "http_batch.h"
#include "stream_pool.h"
#include "testlib.h"

#define ROOMS 100000
#define PER_STREAM 32 /* rooms per stream, the most GET /stream takes */
#define CHATDS 3
#define CREATE_PARALLEL 24     /* room creations in flight */
#define OPEN_BATCH 250         /* streams opened before waiting for them */
#define STREAMS_WAIT_MS 120000 /* for all streams to be ready */
#define MAX_SENDS 50000        /* messages at most (the senders stop long before) */
#define WARM_SENDS 200         /* acknowledged before the first disruption */
#define WARM_WAIT_MS 60000     /* for those at most (then the test fails) */
#define TAIL_SENDS 300         /* sent after the last disruption */
#define RESHARD_SLOTS 1000     /* slots moved by the reshard */
#define SEND_RETRY_MS 30000    /* a send is retried this long */
#define DELIVERY_WAIT_MS 30000
#define ID_BYTES 48 /* a message id, "<ms>-<seq>" */
#define IDS_KEPT 3  /* the ids kept of one message's deliveries */

/* What the streams delivered of one message. */
struct delivery {
    unsigned char count;          /* deliveries (counted up to 255) */
    char ids[IDS_KEPT][ID_BYTES]; /* the message ids of the first ones */
};

/* What the streams saw and what the senders did. */
struct rooms_run {
    int rooms, streams;
    const char *bases[CHATDS];
    char cookie[160];
    struct stream_pool *pool;
    atomic_int issued;       /* messages taken by a sender */
    atomic_int stop_at;      /* senders take no message from here on */
    atomic_int acked_count;  /* messages acknowledged so far */
    atomic_int senders_done; /* senders that stopped */
    atomic_bool acked[MAX_SENDS];
    char acked_id[MAX_SENDS][ID_BYTES]; /* the id of each acknowledged message */
    struct delivery delivered[MAX_SENDS];
    int strays; /* events not of a sent message, or on a wrong stream */
    /* the disruptions, as seen by their thread */
    int reshard_status, kill_status;
    int acked_during_reshard, acked_during_kill;
    double reshard_ms, kill_ms;
};

static struct rooms_run run;

/* The room message k goes to: rooms all over the slot space. */
static int room_of(int k) { return (int)(((long long)k * 7919 + 13) % run.rooms); }

/* One event's data: {"room":"many-<r>",...,"text":"many <k>",...}. */
static void on_data(int stream, const char *data) {
    const char *room = strstr(data, "\"room\":\"many-");
    const char *text = strstr(data, "\"text\":\"many ");
    if (!room || !text) {
        run.strays++;
        return;
    }
    int r = atoi(room + strlen("\"room\":\"many-"));
    int k = atoi(text + strlen("\"text\":\"many "));
    if (k < 0 || k >= atomic_load(&run.issued) || r != room_of(k) || r / PER_STREAM != stream) {
        run.strays++;
        return;
    }
    struct delivery *d = &run.delivered[k];
    if (d->count < IDS_KEPT) test_json_member(data, "id", d->ids[d->count], ID_BYTES);
    if (d->count < 255) d->count++;
}

/* A stream is ready once it sent its position (an id line): every room of
 * it then has its start, and a message stored later reaches it. */
static void on_line(void *arg, int stream, const char *line) {
    (void)arg;
    if (strncmp(line, "id: ", 4) == 0)
        stream_pool_set_ready(run.pool, stream);
    else if (strncmp(line, "data: ", 6) == 0)
        on_data(stream, line + 6);
}

static void make_room(void *arg, int i, char *path, size_t path_size, char *body,
                      size_t body_size) {
    (void)arg;
    snprintf(path, path_size, "/room/");
    snprintf(body, body_size, "{\"name\":\"many-%d\"}", i);
}

static void create_rooms(void) {
    long *status = calloc((size_t)run.rooms, sizeof(*status));
    assert_non_null(status);
    double start = test_now_ms();
    int ok = http_batch_post(run.bases, CHATDS, run.rooms, CREATE_PARALLEL, run.cookie, make_room,
                             NULL, status);
    printf("# %d rooms created through POST /room/ in %.1f s\n", ok,
           (test_now_ms() - start) / 1000);
    assert_int_equal(ok, run.rooms);
    free(status);
}

/* GET /stream?rooms= of stream s's rooms: many-<32s> ... many-<32s+31>. */
static void stream_path(char *out, size_t size, int s) {
    size_t n = (size_t)snprintf(out, size, "/stream?rooms=");
    for (int r = s * PER_STREAM; r < (s + 1) * PER_STREAM && r < run.rooms && n < size; r++)
        n += (size_t)snprintf(out + n, size - n, "%smany-%d", r == s * PER_STREAM ? "" : ",", r);
}

/* Opens the streams a batch at a time, each batch ready before the next
 * (a burst of thousands of connects would overflow the listen queues). */
static void open_streams(void) {
    double start = test_now_ms();
    for (int s = 0; s < run.streams; s++) {
        char path[2048];
        stream_path(path, sizeof(path), s);
        assert_int_equal(stream_pool_open(run.pool, s, run.bases[s % CHATDS], path), 0);
        if ((s + 1) % OPEN_BATCH && s + 1 < run.streams) continue;
        while (stream_pool_ready(run.pool) < s + 1 && stream_pool_ended(run.pool) == 0 &&
               test_now_ms() - start < STREAMS_WAIT_MS)
            stream_pool_pump(run.pool, 100);
        assert_int_equal(stream_pool_ready(run.pool), s + 1);
    }
    printf("# %d streams of %d rooms over %d chatd ready in %.1f s\n", run.streams, PER_STREAM,
           CHATDS, (test_now_ms() - start) / 1000);
}

/* One attempt at sending message k; its id goes into id on 201. */
static long post_once(int k, char id[ID_BYTES]) {
    char path[64], body[96], idem[96];
    snprintf(path, sizeof(path), "/room/many-%d/message", room_of(k));
    int len = snprintf(body, sizeof(body), "{\"text\":\"many %d\"}", k);
    snprintf(idem, sizeof(idem), "Idempotency-Key: many-%d-%d", k, (int)getpid());
    const char *h[] = {"Content-Type: application/json", run.cookie, idem, NULL};
    struct http_result r;
    if (test_http_at(run.bases[k % CHATDS], "POST", path, h, body, (size_t)len, &r) != 0) return 0;
    long status = r.status;
    if (status == 201) test_json_member(r.body, "id", id, ID_BYTES);
    test_http_result_free(&r);
    return status;
}

/* A sender: takes the next message, sends it until acknowledged or
 * SEND_RETRY_MS passed (a failover makes sends fail for a few seconds). */
static void *send_messages(void *arg) {
    (void)arg;
    for (;;) {
        int k = atomic_fetch_add(&run.issued, 1);
        if (k >= atomic_load(&run.stop_at) || k >= MAX_SENDS) {
            atomic_fetch_sub(&run.issued, 1); /* not sent: never counted as sent */
            atomic_fetch_add(&run.senders_done, 1);
            return NULL;
        }
        double until = test_now_ms() + SEND_RETRY_MS;
        bool acked;
        while (!(acked = post_once(k, run.acked_id[k]) == 201) && test_now_ms() < until) {
            struct timespec pause = {0, 50000000}; /* between two attempts of a failed send */
            nanosleep(&pause, NULL);
        }
        atomic_store(&run.acked[k], acked);
        if (acked) atomic_fetch_add(&run.acked_count, 1);
    }
}

/* RESHARD_SLOTS slots move from the lobby's master to another one. */
static int reshard(void) {
    char args[128], out[64];
    int src = cl_master_of("room:{lobby}:messages");
    snprintf(args, sizeof(args), "other-master %d", src);
    if (src < 0 || cl_slot_tool(out, sizeof(out), args) != 0) return -1;
    snprintf(args, sizeof(args), "reshard %d %d %d", src, atoi(out), RESHARD_SLOTS);
    return cl_slot_tool(NULL, 0, args);
}

/* The lobby's master is killed, a replica takes over, the node returns. */
static int kill_a_master(void) {
    char out[64];
    int dead = cl_master_of("room:{lobby}:messages");
    if (cl_cluster(out, sizeof(out), "kill-master") != 0) return -1;
    if (cl_wait_promotion("room:{lobby}:messages", dead) < 0) return -2;
    return cl_cluster(out, sizeof(out), "up"); /* the killed node returns */
}

/* The disruptions, one after the other while the senders run; then the
 * senders send TAIL_SENDS more and stop. */
static void *disrupt(void *arg) {
    (void)arg;
    double warm_until = test_now_ms() + WARM_WAIT_MS;
    while (atomic_load(&run.acked_count) < WARM_SENDS && test_now_ms() < warm_until) {
        struct timespec pause = {0, 10000000}; /* between two readings of the count */
        nanosleep(&pause, NULL);
    }
    int before = atomic_load(&run.acked_count);
    double start = test_now_ms();
    run.reshard_status = reshard();
    run.reshard_ms = test_now_ms() - start;
    run.acked_during_reshard = atomic_load(&run.acked_count) - before;
    before = atomic_load(&run.acked_count);
    start = test_now_ms();
    run.kill_status = kill_a_master();
    run.kill_ms = test_now_ms() - start;
    run.acked_during_kill = atomic_load(&run.acked_count) - before;
    atomic_store(&run.stop_at, atomic_load(&run.issued) + TAIL_SENDS);
    return NULL;
}

/* The clients of all six nodes ("" or "type pubsub " for the subscribers). */
static int redis_clients(const char *type) {
    char out[32];
    int base = atoi(getenv("CLUSTER_PORT_BASE"));
    assert_int_equal(cl_sh(out, sizeof(out),
                           "for p in $(seq %d %d); do redis-cli -p $p client list %s2>/dev/null;"
                           " done | wc -l",
                           base, base + 5, type),
                     0);
    return atoi(out);
}

/* How many deliveries of message k carry its acknowledged id (once the
 * senders are done). */
static int acked_deliveries(int k) {
    const struct delivery *d = &run.delivered[k];
    int n = 0;
    for (int i = 0; i < d->count && i < IDS_KEPT; i++)
        n += strcmp(d->ids[i], run.acked_id[k]) == 0;
    return n;
}

/* Acknowledged messages not delivered yet under their id (once the
 * senders are done). */
static int missing(void) {
    int n = 0, issued = atomic_load(&run.issued);
    for (int k = 0; k < issued; k++)
        n += atomic_load(&run.acked[k]) && acked_deliveries(k) == 0;
    return n;
}

/* Sends with the disruptions in between; pumps the streams all along. */
static void send_through_disruptions(void) {
    pthread_t senders[CHATDS], disruptor;
    atomic_store(&run.stop_at, MAX_SENDS);
    for (int i = 0; i < CHATDS; i++)
        pthread_create(&senders[i], NULL, send_messages, NULL);
    pthread_create(&disruptor, NULL, disrupt, NULL);
    while (atomic_load(&run.senders_done) < CHATDS)
        stream_pool_pump(run.pool, 10);
    pthread_join(disruptor, NULL);
    for (int i = 0; i < CHATDS; i++)
        pthread_join(senders[i], NULL);
    double start = test_now_ms();
    while (missing() > 0 && test_now_ms() - start < DELIVERY_WAIT_MS)
        stream_pool_pump(run.pool, 100);
}

static void setup_run(chat_client *c) {
    run.rooms = ROOMS;
    run.streams = (run.rooms + PER_STREAM - 1) / PER_STREAM;
    run.bases[0] = test_url();
    run.bases[1] = getenv("CHAT_URL2");
    run.bases[2] = getenv("CHAT_URL3");
    assert_non_null(run.bases[1]);
    assert_non_null(run.bases[2]);
    snprintf(run.cookie, sizeof(run.cookie), "Cookie: authKey=%s", chat_client_token(c));
    run.pool = stream_pool_new(run.streams, on_line, NULL);
    assert_non_null(run.pool);
}

static void report_and_check(void) {
    int issued = atomic_load(&run.issued), acked = 0, twice = 0, other_id = 0, unacked_arrived = 0;
    for (int k = 0; k < issued; k++) {
        int count = run.delivered[k].count;
        if (atomic_load(&run.acked[k])) {
            acked++;
            twice += acked_deliveries(k) > 1;
            other_id += count - acked_deliveries(k); /* a write lost with the master */
        } else {
            unacked_arrived += count > 0;
            twice += count > 1;
        }
    }
    printf("# reshard of %d slots: %.1f s, %d sends acknowledged meanwhile; master kill to its"
           " return: %.1f s, %d acknowledged meanwhile\n",
           RESHARD_SLOTS, run.reshard_ms / 1000, run.acked_during_reshard, run.kill_ms / 1000,
           run.acked_during_kill);
    printf("# %d messages sent, %d acknowledged; %d acknowledged ones not delivered, %d delivered"
           " twice, %d stray events; %d unacknowledged ones arrived; %d deliveries of a write"
           " lost with the master\n",
           issued, acked, missing(), twice, run.strays, unacked_arrived, other_id);
    assert_true(acked >= WARM_SENDS);
    assert_int_equal(run.reshard_status, 0);
    assert_int_equal(run.kill_status, 0);
    assert_true(run.acked_during_reshard > 0); /* the slots moved under load */
    assert_true(run.acked_during_kill > 0);
    assert_int_equal(missing(), 0);
    assert_int_equal(twice, 0);
    assert_true(other_id <= CHATDS); /* one write in flight per sender at the kill */
    assert_int_equal(run.strays, 0);
    assert_int_equal(stream_pool_ended(run.pool), 0);
}

static void many_rooms_lose_nothing_across_failover_and_reshard(void **state) {
    (void)state;
    chat_client *c = test_new_user("rooms", NULL);
    assert_non_null(c);
    setup_run(c);
    create_rooms(); /* only rooms created take streams and sends */
    int clients_before = redis_clients(""), subscribers_before = redis_clients("type pubsub ");
    open_streams();
    int clients_after = redis_clients("");
    printf("# %d rooms on %d streams over %d chatd: Redis clients %d -> %d\n", run.rooms,
           run.streams, CHATDS, clients_before, clients_after);
    assert_true(clients_after - clients_before <= CHATDS * 2 * 3); /* 3 chatd x (2 x 3 masters) */

    send_through_disruptions();
    report_and_check();
    stream_pool_free(run.pool);
    /* the rooms are left: their doorbell connections close (and the later
     * tests, which count the nodes' subscribers, find none of them) */
    double start = test_now_ms();
    while (redis_clients("type pubsub ") > subscribers_before && test_now_ms() - start < 20000) {
        struct timespec pause = {0, 50000000}; /* between two readings of the nodes */
        nanosleep(&pause, NULL);
    }
    assert_int_equal(redis_clients("type pubsub "), subscribers_before);
    chat_client_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(many_rooms_lose_nothing_across_failover_and_reshard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
