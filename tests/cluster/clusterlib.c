/* clusterlib: shell and metrics helpers for the cluster tests. */
#include "clusterlib.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "testlib.h"

int cl_sh(char *out, size_t size, const char *fmt, ...) {
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = 0;
    char sink[256];
    char *buf = out ? out : sink;
    size_t cap = out ? size : sizeof(sink);
    while (n + 1 < cap) {
        size_t got = fread(buf + n, 1, cap - 1 - n, p);
        if (got == 0) break;
        n += got;
    }
    while (fread(sink, 1, sizeof(sink), p) > 0) {
    }
    buf[n] = '\0';
    while (n > 0 && buf[n - 1] == '\n') buf[--n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const char *script_dir(char *buf, size_t size) {
    const char *s = getenv("CLUSTER_SCRIPT");
    snprintf(buf, size, "%s", s ? s : "scripts/cluster");
    return buf;
}

int cl_cluster(char *out, size_t size, const char *args) {
    char script[1024];
    return cl_sh(out, size, "'%s' %s", script_dir(script, sizeof(script)), args);
}

int cl_slot_tool(char *out, size_t size, const char *args) {
    char script[1024];
    script_dir(script, sizeof(script));
    char *slash = strrchr(script, '/');
    if (slash) *slash = '\0'; /* .../scripts */
    return cl_sh(out, size, "'%s/../tests/cluster/slot-tool.sh' %s", script, args);
}

int cl_master_of(const char *key) {
    char out[64], args[512];
    snprintf(args, sizeof(args), "master-of '%s'", key);
    if (cl_slot_tool(out, sizeof(out), args) != 0) return -1;
    return atoi(out);
}

int cl_wait_promotion(const char *key, int dead_master) {
    double start = test_now_ms();
    for (;;) {
        int owner = cl_master_of(key);
        if (owner > 0 && owner != dead_master) return owner;
        if (test_now_ms() - start >= 60000) return -1;
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
}

long long cl_metric(const char *sample) { return test_metric(test_url(), sample); }

int cl_node_timeout_ms(void) {
    const char *t = getenv("CLUSTER_NODE_TIMEOUT");
    return t ? atoi(t) : 5000;
}
