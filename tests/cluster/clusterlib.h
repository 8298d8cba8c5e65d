/*
 * clusterlib: helpers for the cluster tests: shell commands against the
 * local cluster (scripts/cluster and tests/cluster/slot-tool.sh, found via
 * CLUSTER_SCRIPT), and chatd's /metrics counters.
 */
#ifndef CHAT_CLUSTERLIB_H
#define CHAT_CLUSTERLIB_H

#include <stddef.h>

/* Runs a shell command built from fmt; its stdout (trailing newlines cut)
 * goes into out. Returns the command's exit status, -1 if it did not run. */
int cl_sh(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Runs scripts/cluster with args (its messages go to stderr, its result,
 * e.g. kill-master's port, into out); returns its exit status. */
int cl_cluster(char *out, size_t size, const char *args);

/* Runs tests/cluster/slot-tool.sh with args; returns its exit status. */
int cl_slot_tool(char *out, size_t size, const char *args);

/* The port of the master serving key, or -1. */
int cl_master_of(const char *key);

/* Waits (polling the cluster's own view every 20 ms, at most 60 s) until a
 * master other than dead_master serves key; returns that master's port, or
 * -1 when none did in time. */
int cl_wait_promotion(const char *key, int dead_master);

/* The value of one sample of chatd's /metrics, e.g.
 * "chatd_redis_redirects_total{kind=\"ask\"}", or -1 when absent. */
long long cl_metric(const char *sample);

/* The cluster-node-timeout the cluster runs with, in ms. */
int cl_node_timeout_ms(void);

#endif
