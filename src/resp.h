/*
 * resp: formats a Redis command (an argument vector) in the Redis protocol,
 * as redisFormatCommandArgv does, without printf: that function spends most
 * of its time in sprintf for the length lines (a send formats 17 of them).
 */
#ifndef CHAT_RESP_H
#define CHAT_RESP_H

#include <stddef.h>

/* "*<argc>\r\n" then "$<len>\r\n<arg>\r\n" per argument, in one malloc'd
 * buffer (free() it; redisFreeCommand() does). argvlen NULL: the arguments
 * are NUL-terminated. NULL when out of memory. */
char *resp_format_argv(size_t *len, int argc, const char **argv, const size_t *argvlen);

#endif
