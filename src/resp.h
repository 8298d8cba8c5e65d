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

/* The two halves of resp_format_argv, for a caller that keeps the command
 * in memory of its own: the length of the encoding (argc >= 0), and the
 * encoding itself written to out (that many bytes, then a NUL). */
size_t resp_format_len(int argc, const char **argv, const size_t *argvlen);
void resp_format_into(char *out, int argc, const char **argv, const size_t *argvlen);

#endif
