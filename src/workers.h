/*
 * workers: a small pool of threads for slow work (Argon2id hashing) so the
 * event loop never waits for it. A job's work() runs on a worker thread;
 * its done() runs afterwards on the event loop thread, woken through a pipe.
 *
 * Contract: when workers_submit() fails, done() is never called; when it
 * succeeds, done() runs exactly once, also at workers_free(), which skips
 * the work of jobs not yet started and passes cancelled = true.
 *
 * The queue of jobs not started may be bounded (workers_set_max_queued):
 * a full queue refuses new jobs, so that a flood of logins answers at once
 * instead of waiting behind minutes of hashing. A queued job whose client
 * has gone can be withdrawn (workers_cancel) before it costs a hash.
 */
#ifndef CHAT_WORKERS_H
#define CHAT_WORKERS_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct workers;

typedef void workers_work_fn(void *arg);
typedef void workers_done_fn(void *arg, bool cancelled);

/* How the worker threads yield the cores to the event loop (--worker-priority). */
enum workers_priority {
    WORKERS_PRIORITY_IDLE, /* SCHED_IDLE: only CPU time nothing else wants (nice if refused) */
    WORKERS_PRIORITY_NICE, /* nice 10: a smaller share of a core the loop wants too */
};

/* Parses "idle" or "nice"; returns 0, or -1 if unknown. */
int workers_priority_parse(const char *name, enum workers_priority *out);

/* Starts nthreads threads at the given priority whose results are delivered
 * on base. */
struct workers *workers_new(struct event_base *base, int nthreads,
                            enum workers_priority priority);

/* Frees the pool: joins the threads, finishes every job as described above.
 * NULL is fine. */
void workers_free(struct workers *w);

/* What workers_submit returns when the queue is full. */
#define WORKERS_FULL (-2)

/* Bounds the jobs queued and not started to max (0: no bound, the default). */
void workers_set_max_queued(struct workers *w, size_t max);

/* Queues a job; 0 on success, WORKERS_FULL when max jobs wait already,
 * -1 on another failure (out of memory). */
int workers_submit(struct workers *w, workers_work_fn *work, workers_done_fn *done, void *arg);

/* Withdraws the queued job submitted with arg if no thread has started it:
 * its work() is skipped and its done() runs later on the loop with
 * cancelled = true. True when withdrawn; false when it started, finished or
 * is unknown (done() then runs as usual). Loop thread only. */
bool workers_cancel(struct workers *w, const void *arg);

/* Jobs submitted whose done() has not run yet, for metrics and tests. */
size_t workers_pending(struct workers *w);

#endif
