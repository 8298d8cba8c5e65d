/*
 * chatctl: what its two halves share. chatctl.c runs the commands over the
 * server API (libcurl); chatctl_keys.c makes, lists and revokes the API keys
 * in Redis itself (hiredis), where no key exists yet to call the API with.
 */
#ifndef CHATCTL_H
#define CHATCTL_H

/* Exit codes, as chat's: 0 ok, 1 refused (4xx) or a local failure, 2 usage
 * error, 3 server (or Redis) unreachable or failing. */
enum { CTL_OK = 0, CTL_REFUSED = 1, CTL_USAGE = 2, CTL_UNAVAILABLE = 3 };

/* Runs "chatctl key ARGS..." (argv[0] is "key"): create [--name N], list,
 * revoke ID; redis is "host:port". Returns the exit code. */
int chatctl_keys(int argc, char **argv, const char *redis);

#endif
