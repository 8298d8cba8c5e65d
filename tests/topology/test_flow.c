/*
 * test_flow: one client's messages flowing through the topology's virtual IP
 * while tests/topology/run.sh breaks something (a load balancer crashes, a
 * Redis host or an app host is cut off) and mends it again.
 *
 *   test_flow NAME      with CHAT_URL (the VIP), FLOW_DIR and FLOW_TAIL set
 *
 * The sender registers a user and sends messages with the client library
 * (retries, one clientMsgId per message, the id also in the text) until the
 * file FLOW_DIR/stop appears; after every acknowledgement it rewrites
 * FLOW_DIR/progress ("<acknowledged> <failed>") so the script can wait for
 * traffic. A first message ("<tag> begin") marks where the run starts, a last
 * one ("<tag> end") where it ends. With FLOW_TAIL=1 a second client follows
 * the lobby with chat_tail (resuming with Last-Event-ID) from the first.
 *
 * Then it checks, as TAP lines: no send failed; every acknowledged message is
 * in the history exactly once with the id it was acknowledged with, no
 * clientMsgId is there twice, and the order is the order of the
 * acknowledgements; the tail received each of them exactly once, in order.
 * It prints, as TAP comments, the longest gap between two acknowledgements
 * and the gap around each event that the script wrote to FLOW_DIR/marks
 * ("<name> <ms since the epoch>" per line): the failover window; and how
 * long after its acknowledgement the tail received a message, at most.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chatclient.h"
#include "testlib.h"

#define MAX_SENDS 60000
#define SEND_TIMEOUT_MS 3000
#define RETRY_BUDGET_MS 30000
#define TAIL_BUDGET_MS 60000

/* One acknowledged send. */
struct ack {
    char id[48];     /* the stream id it was acknowledged with */
    char cmid[40];   /* its clientMsgId */
    long long at_ms; /* wall clock when the acknowledgement arrived */
    bool replayed;   /* the server answered with a message stored earlier */
};

/* What the tail thread saw. */
struct tail {
    chat_client *client;  /* its own client, no session */
    const char *tag;      /* the run's tag: only its messages count */
    const char *after;    /* where to start (NULL: now) */
    char (*ids)[48];      /* ids received, in order */
    char (*cmids)[40];    /* the clientMsgId in each received text */
    long long *at_ms;     /* when each was received (wall clock) */
    size_t n;             /* how many */
    int rc;               /* chat_tail's result */
    char error[256];      /* chat_client_error() after it */
};

static const char *flow_dir;
static struct ack *acks;
static size_t nacks;
static unsigned failed;
static unsigned replayed;

static long long wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool stop_requested(void) {
    char path[512];
    snprintf(path, sizeof(path), "%s/stop", flow_dir);
    return access(path, F_OK) == 0;
}

/* Rewrites FLOW_DIR/progress atomically (write a new file, rename it). */
static void write_progress(void) {
    char tmp[512], path[512];
    snprintf(tmp, sizeof(tmp), "%s/progress.tmp", flow_dir);
    snprintf(path, sizeof(path), "%s/progress", flow_dir);
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    fprintf(f, "%zu %u\n", nacks, failed);
    fclose(f);
    rename(tmp, path);
}

static int on_tail_message(const chat_message *m, void *arg) {
    struct tail *t = arg;
    size_t taglen = strlen(t->tag);
    if (strncmp(m->text, t->tag, taglen) != 0 || m->text[taglen] != ' ') return 0;
    if (strcmp(m->text + taglen + 1, "end") == 0) return 1;
    if (t->n < MAX_SENDS) {
        t->at_ms[t->n] = wall_ms();
        snprintf(t->cmids[t->n], sizeof(t->cmids[0]), "%s", m->text + taglen + 1);
        snprintf(t->ids[t->n++], sizeof(t->ids[0]), "%s", m->id);
    }
    return 0;
}

static void *tail_run(void *arg) {
    struct tail *t = arg;
    t->rc = chat_tail(t->client, NULL, t->after, on_tail_message, t);
    snprintf(t->error, sizeof(t->error), "%s", chat_client_error(t->client));
    return NULL;
}

/* Sends until the stop file appears; returns the number of sends tried. */
static size_t send_until_stopped(chat_client *c, const char *tag) {
    size_t i;
    for (i = 0; i < MAX_SENDS && !stop_requested(); i++) {
        char cmid[40], text[96];
        chat_message m = {0};
        snprintf(cmid, sizeof(cmid), "%s-%06zu", tag, i);
        snprintf(text, sizeof(text), "%s %s", tag, cmid);
        int rc = chat_send_with_id(c, text, cmid, &m);
        if (rc == CHAT_OK) {
            struct ack *a = &acks[nacks++];
            snprintf(a->id, sizeof(a->id), "%s", m.id);
            snprintf(a->cmid, sizeof(a->cmid), "%s", cmid);
            a->at_ms = wall_ms();
            a->replayed = chat_client_last_replayed(c);
            replayed += a->replayed;
        } else {
            failed++;
            printf("# send %zu failed: %s (status %d, %u attempts): %s\n", i, chat_err_name(rc),
                   chat_client_status(c), chat_client_attempts(c), chat_client_error(c));
        }
        chat_message_cleanup(&m);
        write_progress();
    }
    return i;
}

/* Prints the longest gap and each event's failover window; TAP comments. */
static void print_windows(const char *name) {
    double longest = 0;
    size_t after = 0;
    for (size_t i = 1; i < nacks; i++) {
        double gap = (double)(acks[i].at_ms - acks[i - 1].at_ms);
        if (gap > longest) longest = gap, after = i - 1;
    }
    if (nacks > 1)
        printf("# %s: longest gap between two acknowledgements %.0f ms (after #%zu of %zu)\n", name,
               longest, after, nacks);
    char path[512];
    snprintf(path, sizeof(path), "%s/marks", flow_dir);
    FILE *f = fopen(path, "r");
    if (!f) return;
    char names[16][64];
    long long at[16];
    int n = 0;
    while (n < 16 && fscanf(f, "%63s %lld", names[n], &at[n]) == 2) n++;
    /* An event's window: the longest gap between two consecutive
     * acknowledgements among those that end after it and before the next
     * event (a gap that spans the event belongs to it). */
    for (int k = 0; k < n; k++) {
        long long until = k + 1 < n ? at[k + 1] : acks[nacks - 1].at_ms + 1;
        long long worst = -1, from = 0;
        for (size_t i = 1; i < nacks; i++) {
            if (acks[i].at_ms <= at[k] || acks[i].at_ms > until) continue;
            long long gap = acks[i].at_ms - acks[i - 1].at_ms;
            if (gap > worst) worst = gap, from = acks[i - 1].at_ms;
        }
        if (worst < 0)
            printf("# %s: no acknowledgement after '%s'\n", name, names[k]);
        else
            printf("# %s: failover window of '%s': %lld ms without an acknowledgement,"
                   " from %lld ms after it\n",
                   name, names[k], worst, from - at[k]);
    }
    fclose(f);
}

/* Checks the history after `after` against the acknowledgements; TAP line. */
static bool check_history(chat_client *c, const char *name, const char *tag, const char *after) {
    chat_message_list list = {0};
    int rc = chat_history(c, after, 0, &list);
    if (rc != CHAT_OK) {
        printf("not ok - %s: the history can be read (%s)\n", name, chat_client_error(c));
        return false;
    }
    size_t taglen = strlen(tag), next = 0, ours = 0;
    bool good = true;
    for (size_t i = 0; i < list.count && good; i++) {
        const char *text = list.items[i].text;
        if (strncmp(text, tag, taglen) != 0 || text[taglen] != ' ') continue;
        if (strcmp(text + taglen + 1, "end") == 0) continue;
        ours++;
        /* Single sender, one send at a time: the history must list exactly
         * the acknowledged messages, in acknowledgement order. */
        if (next >= nacks || strcmp(text + taglen + 1, acks[next].cmid) != 0 ||
            strcmp(list.items[i].id, acks[next].id) != 0) {
            printf("# %s: history entry %s \"%s\" where acknowledgement #%zu (%s %s) was expected\n",
                   name, list.items[i].id, text, next, next < nacks ? acks[next].id : "-",
                   next < nacks ? acks[next].cmid : "-");
            good = false;
            break;
        }
        next++;
    }
    if (good && next != nacks) {
        printf("# %s: %zu acknowledged messages are missing from the history\n", name, nacks - next);
        good = false;
    }
    printf("%s - %s: all %zu acknowledged messages are in the history once, in order"
           " (%zu of ours there, %u replayed on retry)\n",
           good ? "ok" : "not ok", name, nacks, ours, replayed);
    chat_message_list_cleanup(&list);
    return good;
}

/* The tail must have received every acknowledged message once, in order.
 * One exception is allowed and reported: a write the cut-off master took and
 * chatd delivered live just before the cut, never replicated and so never
 * acknowledged; the client's retry stored it again under a new id, which
 * must then follow (docs/STORAGE.md: subscribers may see a write that is
 * later lost). The history check above proves such a write is gone. */
static bool check_tail(const struct tail *t, const char *name) {
    size_t i = 0, j = 0, lost = 0, worst = 0;
    long long lag = 0;
    while (i < t->n && j < nacks) {
        if (strcmp(t->ids[i], acks[j].id) == 0) {
            if (t->at_ms[i] - acks[j].at_ms > lag) lag = t->at_ms[i] - acks[j].at_ms, worst = j;
            i++, j++;
        } else if (strcmp(t->cmids[i], acks[j].cmid) == 0) {
            printf("# %s: the stream delivered %s \"%s\", a write that was never acknowledged and"
                   " is not in the history; its retry was stored as %s\n",
                   name, t->ids[i], t->cmids[i], acks[j].id);
            lost++, i++;
        } else {
            break;
        }
    }
    bool good = t->rc == CHAT_OK && i == t->n && j == nacks && lost <= 1;
    if (i < t->n || j < nacks) {
        printf("# %s: the stream and the acknowledgements differ from #%zu on: received %s,"
               " acknowledged %s %s\n",
               name, j, i < t->n ? t->ids[i] : "nothing", j < nacks ? acks[j].id : "nothing",
               j < nacks ? acks[j].cmid : "");
        if (j > 0) printf("# %s: #%zu before it was %s\n", name, j - 1, acks[j - 1].id);
    }
    if (j > 0)
        printf("# %s: the stream delivered a message at most %lld ms after its acknowledgement"
               " (#%zu)\n", name, lag, worst);
    printf("%s - %s: the live stream delivered every acknowledged message once, in order"
           " (%zu received, %zu acknowledged, %zu lost unacknowledged%s%s)\n",
           good ? "ok" : "not ok", name, t->n, nacks, lost, t->rc == CHAT_OK ? "" : "; tail: ",
           t->rc == CHAT_OK ? "" : t->error);
    return good;
}

int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "flow";
    flow_dir = getenv("FLOW_DIR");
    bool with_tail = getenv("FLOW_TAIL") && strcmp(getenv("FLOW_TAIL"), "1") == 0;
    if (!flow_dir || !getenv("CHAT_URL")) {
        fprintf(stderr, "usage: CHAT_URL=... FLOW_DIR=... test_flow NAME\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    acks = calloc(MAX_SENDS, sizeof(*acks));
    char tag[32], start[48];
    snprintf(tag, sizeof(tag), "%s-%ld", name, (long)getpid());
    chat_client *c = test_new_user(name, NULL);
    if (!acks || !c) {
        printf("not ok - %s: a user registers through the VIP\n", name);
        return 1;
    }
    chat_client_set_timeout(c, SEND_TIMEOUT_MS);
    chat_client_set_retry(c, RETRY_BUDGET_MS);
    /* A first message marks where the run starts: the history and the tail
     * read from its id (a tail without one would start with whatever comes
     * after it connects, a race with the first send). */
    char begin[48];
    chat_message first = {0};
    snprintf(begin, sizeof(begin), "%s begin", tag);
    if (chat_send(c, begin, &first) != CHAT_OK) {
        printf("not ok - %s: a first message goes through the VIP (%s)\n", name,
               chat_client_error(c));
        return 1;
    }
    snprintf(start, sizeof(start), "%s", first.id);
    chat_message_cleanup(&first);

    struct tail t = {.tag = tag, .after = start};
    pthread_t tail_thread;
    if (with_tail) {
        t.client = chat_client_new(test_url());
        t.ids = calloc(MAX_SENDS, sizeof(*t.ids));
        t.cmids = calloc(MAX_SENDS, sizeof(*t.cmids));
        t.at_ms = calloc(MAX_SENDS, sizeof(*t.at_ms));
        if (!t.client || !t.ids || !t.cmids || !t.at_ms) return 1;
        chat_client_set_timeout(t.client, SEND_TIMEOUT_MS);
        chat_client_set_retry(t.client, TAIL_BUDGET_MS);
        if (pthread_create(&tail_thread, NULL, tail_run, &t) != 0) return 1;
    }

    size_t tried = send_until_stopped(c, tag);
    char end[48];
    snprintf(end, sizeof(end), "%s end", tag);
    bool good = chat_send(c, end, NULL) == CHAT_OK;
    if (!good) printf("# %s: the last message failed: %s\n", name, chat_client_error(c));
    printf("%s - %s: no send failed (%zu sent, %zu acknowledged, %u failed)\n",
           failed == 0 && good ? "ok" : "not ok", name, tried, nacks, failed);
    good = good && failed == 0;
    print_windows(name);
    good = check_history(c, name, tag, start) && good;
    if (with_tail) {
        pthread_join(tail_thread, NULL);
        good = check_tail(&t, name) && good;
        chat_client_free(t.client);
        free(t.ids);
        free(t.cmids);
        free(t.at_ms);
    }
    chat_client_free(c);
    free(acks);
    return good ? 0 : 1;
}
