/* workers: thread pool with results handed back to the event loop. */
#include "workers.h"

#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"

/* Workers run slow CPU work (Argon2id) and must not take the cores from the
 * event loop. Under SCHED_IDLE (Linux) a worker gets only the CPU time that
 * no other thread of its scheduling group (its cgroup; with autogroup, its
 * session) wants, and a loop thread that wakes up preempts it at once. A nice
 * value is per thread on Linux: at 10 a busy worker still gets about a tenth
 * of a core the loop wants too, and may finish its slice before the loop
 * runs. Either way idle cores are used in full. */
#define WORKER_NICE 10

struct job {
    workers_work_fn *work; /* runs on a worker thread */
    workers_done_fn *done; /* runs on the loop thread */
    void *arg;             /* passed to both */
    bool cancelled;        /* work() was skipped */
    struct job *next;      /* queue link */
};

struct job_queue {
    struct job *head, *tail;
};

struct workers {
    pthread_mutex_t lock;    /* guards both queues and stopping */
    pthread_cond_t wake;     /* signalled when todo gains a job or on stop */
    struct job_queue todo;   /* submitted, not started */
    struct job_queue done;   /* finished, done() not yet run */
    size_t queued;           /* jobs in todo */
    size_t max_queued;       /* bound on queued; 0: none */
    atomic_size_t pending;   /* jobs submitted whose done() has not run */
    bool stopping;           /* threads must exit */
    int pipe_fds[2];         /* workers write a byte here to wake the loop */
    struct event *pipe_ev;   /* read side of the pipe on the loop */
    pthread_t *threads;      /* nthreads handles */
    int nthreads;            /* threads started */
    enum workers_priority priority; /* how the threads yield to the loop */
    atomic_flag priority_warned;    /* SCHED_IDLE was refused and that was logged */
};

static void queue_push(struct job_queue *q, struct job *j) {
    j->next = NULL;
    if (q->tail) q->tail->next = j;
    else q->head = j;
    q->tail = j;
}

static struct job *queue_pop(struct job_queue *q) {
    struct job *j = q->head;
    if (j) {
        q->head = j->next;
        if (!q->head) q->tail = NULL;
    }
    return j;
}

/* Lowers the calling worker thread's priority as asked. Neither change is
 * fatal when refused: SCHED_IDLE falls back to the nice value (warned once),
 * a refused nice value leaves the thread at the loop's priority. */
static void lower_priority(struct workers *w) {
#ifdef SCHED_IDLE
    if (w->priority == WORKERS_PRIORITY_IDLE) {
        struct sched_param param = {.sched_priority = 0};
        int rc = pthread_setschedparam(pthread_self(), SCHED_IDLE, &param);
        if (rc == 0) return;
        if (!atomic_flag_test_and_set(&w->priority_warned))
            log_warn("msg=\"SCHED_IDLE refused, workers run at nice %d\" err=\"%s\"", WORKER_NICE,
                     strerror(rc));
    }
#else
    (void)w;
#endif
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), WORKER_NICE);
}

static void wake_loop(struct workers *w) {
    char byte = 1;
    ssize_t n = write(w->pipe_fds[1], &byte, 1);
    (void)n; /* a full pipe already wakes the loop */
}

static void *worker_main(void *arg) {
    struct workers *w = arg;
    lower_priority(w);
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->stopping && !w->todo.head) pthread_cond_wait(&w->wake, &w->lock);
        if (w->stopping) break;
        struct job *j = queue_pop(&w->todo);
        w->queued--;
        pthread_mutex_unlock(&w->lock);
        j->work(j->arg);
        pthread_mutex_lock(&w->lock);
        bool was_empty = w->done.head == NULL;
        queue_push(&w->done, j);
        pthread_mutex_unlock(&w->lock);
        /* Outside the lock: the byte wakes the loop, which may preempt this
         * low-priority thread at once and must not then wait for its lock.
         * A job pushed behind others is taken with them: their pusher's
         * byte is still to come, or the loop has not swapped the list yet. */
        if (was_empty) wake_loop(w);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* Runs done() for every finished job; called on the loop thread. */
static void run_done(struct workers *w) {
    pthread_mutex_lock(&w->lock);
    struct job_queue finished = w->done;
    w->done.head = w->done.tail = NULL;
    pthread_mutex_unlock(&w->lock);
    struct job *j;
    while ((j = queue_pop(&finished))) {
        atomic_fetch_sub(&w->pending, 1);
        j->done(j->arg, j->cancelled);
        free(j);
    }
}

static void on_pipe_readable(evutil_socket_t fd, short what, void *arg) {
    (void)what;
    char buf[64];
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
    run_done(arg);
}

int workers_priority_parse(const char *name, enum workers_priority *out) {
    if (strcmp(name, "idle") == 0) *out = WORKERS_PRIORITY_IDLE;
    else if (strcmp(name, "nice") == 0) *out = WORKERS_PRIORITY_NICE;
    else return -1;
    return 0;
}

struct workers *workers_new(struct event_base *base, int nthreads,
                            enum workers_priority priority) {
    struct workers *w = calloc(1, sizeof(*w));
    if (!w) return NULL;
    w->priority = priority;
    atomic_flag_clear(&w->priority_warned);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    w->pipe_fds[0] = w->pipe_fds[1] = -1;
    w->threads = calloc((size_t)nthreads, sizeof(pthread_t));
    if (!w->threads || pipe2(w->pipe_fds, O_NONBLOCK | O_CLOEXEC) < 0) goto fail;
    w->pipe_ev = event_new(base, w->pipe_fds[0], EV_READ | EV_PERSIST, on_pipe_readable, w);
    if (!w->pipe_ev || event_add(w->pipe_ev, NULL) < 0) goto fail;
    for (; w->nthreads < nthreads; w->nthreads++)
        if (pthread_create(&w->threads[w->nthreads], NULL, worker_main, w) != 0) goto fail;
    return w;
fail:
    workers_free(w);
    return NULL;
}

void workers_free(struct workers *w) {
    if (!w) return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
    for (int i = 0; i < w->nthreads; i++) pthread_join(w->threads[i], NULL);
    struct job *j;
    while ((j = queue_pop(&w->todo))) {
        j->cancelled = true;
        queue_push(&w->done, j);
    }
    run_done(w);
    if (w->pipe_ev) event_free(w->pipe_ev);
    for (int i = 0; i < 2; i++)
        if (w->pipe_fds[i] >= 0) close(w->pipe_fds[i]);
    free(w->threads);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

void workers_set_max_queued(struct workers *w, size_t max) {
    pthread_mutex_lock(&w->lock);
    w->max_queued = max;
    pthread_mutex_unlock(&w->lock);
}

int workers_submit(struct workers *w, workers_work_fn *work, workers_done_fn *done, void *arg) {
    struct job *j = calloc(1, sizeof(*j));
    if (!j) return -1;
    j->work = work;
    j->done = done;
    j->arg = arg;
    pthread_mutex_lock(&w->lock);
    if (w->max_queued && w->queued >= w->max_queued) {
        pthread_mutex_unlock(&w->lock);
        free(j);
        return WORKERS_FULL;
    }
    w->queued++;
    queue_push(&w->todo, j);
    atomic_fetch_add(&w->pending, 1);
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

bool workers_cancel(struct workers *w, const void *arg) {
    pthread_mutex_lock(&w->lock);
    struct job *prev = NULL, *j = w->todo.head;
    while (j && j->arg != arg) prev = j, j = j->next;
    bool was_empty = w->done.head == NULL;
    if (j) {
        if (prev) prev->next = j->next;
        else w->todo.head = j->next;
        if (w->todo.tail == j) w->todo.tail = prev;
        w->queued--;
        j->cancelled = true;
        queue_push(&w->done, j);
    }
    pthread_mutex_unlock(&w->lock);
    if (j && was_empty) wake_loop(w);
    return j != NULL;
}

size_t workers_pending(struct workers *w) { return atomic_load(&w->pending); }
