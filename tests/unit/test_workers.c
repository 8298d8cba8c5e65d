/*
 * Unit tests for workers.c on a real libevent loop: work() runs off the loop
 * thread, done() runs on it exactly once per job, workers_free() cancels the
 * jobs not started, workers_pending() counts, a bounded queue refuses and
 * workers_cancel() withdraws a queued job, and the threads run at the
 * priority asked for (SCHED_IDLE, or nice 10). Every wait for a result has
 * a 10 s watchdog instead of a sleep; the one pause (200 ms in
 * open_gate_later) only gives workers_free() time to reach its join.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sched.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/event.h>

#include "workers.h"

#define WATCHDOG_SECONDS 10
#define MANY_JOBS 50

struct ctx;

/* One submitted job and what happened to it. */
struct job_rec {
    struct ctx *ctx;
    int index;
    atomic_int work_calls;     /* times work() ran */
    atomic_bool work_off_loop; /* work() ran on a thread other than the loop's */
    atomic_bool block;         /* work() waits for the gate to open */
    int done_calls;            /* times done() ran */
    bool done_on_loop;         /* done() ran on the loop thread */
    bool done_after_work;      /* work() had run when done() came (or was skipped) */
    bool cancelled;            /* what done() was told */
    atomic_int policy;         /* the scheduling policy work() ran under */
    atomic_int nice;           /* the nice value work() ran at */
};

/* The state shared by a test's jobs. */
struct ctx {
    struct event_base *base;
    struct workers *w;
    pthread_t loop_thread; /* the thread running the test and the loop */
    atomic_int work_total; /* work() calls over all jobs */
    int done_total;        /* done() calls over all jobs */
    int expect_done;       /* break the loop after this many done() calls */
    bool timed_out;        /* the watchdog fired */
    pthread_mutex_t lock;  /* guards started and gate_open */
    pthread_cond_t cond;   /* signalled when started, gate_open or work_total change */
    int started;           /* work() calls that began */
    bool gate_open;        /* blocking jobs may finish */
    struct job_rec jobs[MANY_JOBS];
};

static void work(void *arg) {
    struct job_rec *j = arg;
    struct ctx *c = j->ctx;
    atomic_store(&j->work_off_loop, !pthread_equal(pthread_self(), c->loop_thread));
    atomic_store(&j->policy, sched_getscheduler(0)); /* 0: this thread, on Linux */
    atomic_store(&j->nice, getpriority(PRIO_PROCESS, (id_t)gettid()));
    pthread_mutex_lock(&c->lock);
    c->started++;
    pthread_cond_broadcast(&c->cond);
    while (atomic_load(&j->block) && !c->gate_open)
        pthread_cond_wait(&c->cond, &c->lock);
    atomic_fetch_add(&j->work_calls, 1);
    atomic_fetch_add(&c->work_total, 1);
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void done(void *arg, bool cancelled) {
    struct job_rec *j = arg;
    struct ctx *c = j->ctx;
    j->done_calls++;
    j->done_on_loop = pthread_equal(pthread_self(), c->loop_thread);
    j->done_after_work = cancelled || atomic_load(&j->work_calls) == 1;
    j->cancelled = cancelled;
    c->done_total++;
    if (c->done_total == c->expect_done) event_base_loopbreak(c->base);
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct ctx *c = arg;
    c->timed_out = true;
    event_base_loopbreak(c->base);
}

static int ctx_setup(void **state) {
    static struct ctx c;
    memset(&c, 0, sizeof(c));
    c.base = event_base_new();
    if (!c.base) return -1;
    c.loop_thread = pthread_self();
    pthread_mutex_init(&c.lock, NULL);
    pthread_cond_init(&c.cond, NULL);
    for (int i = 0; i < MANY_JOBS; i++) {
        c.jobs[i].ctx = &c;
        c.jobs[i].index = i;
    }
    *state = &c;
    return 0;
}

static int ctx_teardown(void **state) {
    struct ctx *c = *state;
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    event_base_free(c->base);
    return 0;
}

/* Runs the loop until expect_done done() calls came or the watchdog fired. */
static void run_loop(struct ctx *c) {
    struct event *dog = evtimer_new(c->base, on_watchdog, c);
    assert_non_null(dog);
    struct timeval tv = {WATCHDOG_SECONDS, 0};
    assert_int_equal(evtimer_add(dog, &tv), 0);
    assert_int_equal(event_base_loop(c->base, 0), 0);
    event_free(dog);
    assert_false(c->timed_out);
}

/* Waits (on the test thread, without the loop) until pred(c) holds under the
 * lock; fails the test after the watchdog time. */
static void wait_until(struct ctx *c, bool (*pred)(struct ctx *)) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += WATCHDOG_SECONDS;
    pthread_mutex_lock(&c->lock);
    int rc = 0;
    while (!pred(c) && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&c->cond, &c->lock, &deadline);
    bool ok = pred(c);
    pthread_mutex_unlock(&c->lock);
    assert_true(ok);
}

static int submit(struct ctx *c, int i) { return workers_submit(c->w, work, done, &c->jobs[i]); }

static void test_many_jobs(void **state) {
    struct ctx *c = *state;
    c->w = workers_new(c->base, 4, WORKERS_PRIORITY_IDLE);
    assert_non_null(c->w);
    assert_int_equal(workers_pending(c->w), 0);
    for (int i = 0; i < MANY_JOBS; i++)
        assert_int_equal(submit(c, i), 0);
    /* done() only runs on the loop, which has not run yet. */
    assert_int_equal(workers_pending(c->w), MANY_JOBS);
    c->expect_done = MANY_JOBS;
    run_loop(c);
    assert_int_equal(c->done_total, MANY_JOBS);
    assert_int_equal(atomic_load(&c->work_total), MANY_JOBS);
    assert_int_equal(workers_pending(c->w), 0);
    for (int i = 0; i < MANY_JOBS; i++) {
        struct job_rec *j = &c->jobs[i];
        assert_int_equal(atomic_load(&j->work_calls), 1);
        assert_true(atomic_load(&j->work_off_loop));
        assert_int_equal(j->done_calls, 1);
        assert_true(j->done_on_loop);
        assert_true(j->done_after_work);
        assert_false(j->cancelled);
    }
    /* Nothing comes twice: neither from more loop turns nor at free. */
    assert_int_equal(event_base_loop(c->base, EVLOOP_NONBLOCK), 0);
    assert_int_equal(c->done_total, MANY_JOBS);
    workers_free(c->w);
    c->w = NULL;
    assert_int_equal(c->done_total, MANY_JOBS);
    for (int i = 0; i < MANY_JOBS; i++)
        assert_int_equal(c->jobs[i].done_calls, 1);
}

static bool first_started(struct ctx *c) { return c->started >= 1; }

/* Opens the gate after a short while, from its own thread, so that the test
 * thread can be inside workers_free() (joining) when the blocked job ends. */
static void *open_gate_later(void *arg) {
    struct ctx *c = arg;
    struct timespec pause = {0, 200 * 1000 * 1000};
    nanosleep(&pause, NULL);
    pthread_mutex_lock(&c->lock);
    c->gate_open = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static void test_free_cancels_queued_jobs(void **state) {
    struct ctx *c = *state;
    const int n = 10;
    c->w = workers_new(c->base, 1, WORKERS_PRIORITY_IDLE);
    assert_non_null(c->w);
    /* Job 0 occupies the only thread until the gate opens; the rest queue. */
    atomic_store(&c->jobs[0].block, true);
    assert_int_equal(submit(c, 0), 0);
    wait_until(c, first_started);
    for (int i = 1; i < n; i++)
        assert_int_equal(submit(c, i), 0);
    assert_int_equal(workers_pending(c->w), (size_t)n);
    pthread_t opener;
    assert_int_equal(pthread_create(&opener, NULL, open_gate_later, c), 0);
    workers_free(c->w);
    c->w = NULL;
    pthread_join(opener, NULL);
    assert_int_equal(c->done_total, n);
    /* Job 0 had started: it finishes normally. */
    assert_int_equal(atomic_load(&c->jobs[0].work_calls), 1);
    assert_int_equal(c->jobs[0].done_calls, 1);
    assert_false(c->jobs[0].cancelled);
    assert_true(c->jobs[0].done_on_loop);
    /* The queued ones never ran and were told so, once each. */
    for (int i = 1; i < n; i++) {
        struct job_rec *j = &c->jobs[i];
        assert_int_equal(atomic_load(&j->work_calls), 0);
        assert_int_equal(j->done_calls, 1);
        assert_true(j->cancelled);
        assert_true(j->done_on_loop);
    }
    /* And nothing comes later from the loop. */
    event_base_loop(c->base, EVLOOP_NONBLOCK);
    assert_int_equal(c->done_total, n);
}

static bool five_worked(struct ctx *c) { return atomic_load(&c->work_total) == 5; }

static void test_free_delivers_finished_jobs(void **state) {
    struct ctx *c = *state;
    c->w = workers_new(c->base, 2, WORKERS_PRIORITY_IDLE);
    assert_non_null(c->w);
    for (int i = 0; i < 5; i++)
        assert_int_equal(submit(c, i), 0);
    /* All five work() calls end while nobody runs the loop. */
    wait_until(c, five_worked);
    assert_int_equal(workers_pending(c->w), 5); /* done() has not run */
    assert_int_equal(c->done_total, 0);
    workers_free(c->w);
    c->w = NULL;
    assert_int_equal(c->done_total, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(c->jobs[i].done_calls, 1);
        assert_false(c->jobs[i].cancelled);
        assert_true(c->jobs[i].done_after_work);
        assert_true(c->jobs[i].done_on_loop);
    }
}

static void test_full_queue_refuses_and_cancel_withdraws(void **state) {
    struct ctx *c = *state;
    c->w = workers_new(c->base, 1, WORKERS_PRIORITY_IDLE);
    assert_non_null(c->w);
    workers_set_max_queued(c->w, 3);
    /* Job 0 occupies the only thread; three queue, the next is refused. */
    atomic_store(&c->jobs[0].block, true);
    assert_int_equal(submit(c, 0), 0);
    wait_until(c, first_started);
    for (int i = 1; i <= 3; i++)
        assert_int_equal(submit(c, i), 0);
    assert_int_equal(submit(c, 4), WORKERS_FULL);
    assert_int_equal(workers_pending(c->w), 4);
    /* A started job cannot be withdrawn; a queued one can, once. */
    assert_false(workers_cancel(c->w, &c->jobs[0]));
    assert_true(workers_cancel(c->w, &c->jobs[2]));
    assert_false(workers_cancel(c->w, &c->jobs[2]));
    assert_false(workers_cancel(c->w, &c->jobs[4])); /* never queued */
    assert_int_equal(submit(c, 4), 0);               /* its place is free again */
    pthread_mutex_lock(&c->lock);
    c->gate_open = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    c->expect_done = 5;
    run_loop(c);
    for (int i = 0; i <= 4; i++) {
        struct job_rec *j = &c->jobs[i];
        assert_int_equal(j->done_calls, 1);
        assert_true(j->done_on_loop);
        assert_int_equal(j->cancelled, i == 2);
        assert_int_equal(atomic_load(&j->work_calls), i == 2 ? 0 : 1);
    }
    workers_free(c->w);
    c->w = NULL;
    assert_int_equal(c->done_total, 5);
}

static void test_free_null(void **state) {
    (void)state;
    workers_free(NULL);
}

static void test_free_idle_pool(void **state) {
    struct ctx *c = *state;
    c->w = workers_new(c->base, 3, WORKERS_PRIORITY_IDLE);
    assert_non_null(c->w);
    assert_int_equal(workers_pending(c->w), 0);
    workers_free(c->w);
    c->w = NULL;
    assert_int_equal(c->done_total, 0);
    /* The pool took its event off the base. */
    assert_int_equal(event_base_loop(c->base, EVLOOP_NONBLOCK), 1);
}

/* Whether a new thread of this process may switch itself to SCHED_IDLE
 * (seccomp or a container may refuse; chatd then falls back to nice). */
static void *try_sched_idle(void *arg) {
    struct sched_param param = {.sched_priority = 0};
    *(bool *)arg = pthread_setschedparam(pthread_self(), SCHED_IDLE, &param) == 0;
    return NULL;
}

/* Runs one job on a new pool of the given priority; returns its record. */
static struct job_rec *run_one(struct ctx *c, enum workers_priority priority) {
    c->w = workers_new(c->base, 1, priority);
    assert_non_null(c->w);
    assert_int_equal(submit(c, 0), 0);
    c->expect_done = 1;
    run_loop(c);
    workers_free(c->w);
    c->w = NULL;
    return &c->jobs[0];
}

static void test_priority_idle(void **state) {
    struct ctx *c = *state;
    bool allowed = false;
    pthread_t probe;
    assert_int_equal(pthread_create(&probe, NULL, try_sched_idle, &allowed), 0);
    pthread_join(probe, NULL);
    struct job_rec *j = run_one(c, WORKERS_PRIORITY_IDLE);
    if (allowed) {
        assert_int_equal(atomic_load(&j->policy), SCHED_IDLE);
    } else { /* the fallback */
        assert_int_equal(atomic_load(&j->policy), SCHED_OTHER);
        assert_true(atomic_load(&j->nice) >= 10);
    }
    /* The loop's own thread keeps its priority. */
    assert_int_equal(sched_getscheduler(0), SCHED_OTHER);
}

static void test_priority_nice(void **state) {
    struct ctx *c = *state;
    int loop_nice = getpriority(PRIO_PROCESS, (id_t)gettid());
    struct job_rec *j = run_one(c, WORKERS_PRIORITY_NICE);
    assert_int_equal(atomic_load(&j->policy), SCHED_OTHER);
    /* nice 10, or higher when the test itself runs nicer than that */
    assert_int_equal(atomic_load(&j->nice), loop_nice > 10 ? loop_nice : 10);
    assert_int_equal(getpriority(PRIO_PROCESS, (id_t)gettid()), loop_nice);
}

static void test_priority_parse(void **state) {
    (void)state;
    enum workers_priority p = WORKERS_PRIORITY_NICE;
    assert_int_equal(workers_priority_parse("idle", &p), 0);
    assert_int_equal(p, WORKERS_PRIORITY_IDLE);
    assert_int_equal(workers_priority_parse("nice", &p), 0);
    assert_int_equal(p, WORKERS_PRIORITY_NICE);
    assert_int_equal(workers_priority_parse("IDLE", &p), -1);
    assert_int_equal(workers_priority_parse("", &p), -1);
    assert_int_equal(p, WORKERS_PRIORITY_NICE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_many_jobs, ctx_setup, ctx_teardown),
        cmocka_unit_test_setup_teardown(test_free_cancels_queued_jobs, ctx_setup, ctx_teardown),
        cmocka_unit_test_setup_teardown(test_free_delivers_finished_jobs, ctx_setup, ctx_teardown),
        cmocka_unit_test_setup_teardown(test_full_queue_refuses_and_cancel_withdraws, ctx_setup,
                                        ctx_teardown),
        cmocka_unit_test(test_free_null),
        cmocka_unit_test_setup_teardown(test_free_idle_pool, ctx_setup, ctx_teardown),
        cmocka_unit_test_setup_teardown(test_priority_idle, ctx_setup, ctx_teardown),
        cmocka_unit_test_setup_teardown(test_priority_nice, ctx_setup, ctx_teardown),
        cmocka_unit_test(test_priority_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
