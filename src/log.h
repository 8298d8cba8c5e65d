/*
 * log: one line per event in logfmt ("time=... level=info msg=... k=v") on
 * stderr. The level is checked before anything is formatted. Never pass a
 * secret (password, token) to these functions.
 */
#ifndef CHAT_LOG_H
#define CHAT_LOG_H

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

extern enum log_level log_threshold;

/* Parses "debug", "info", "warn" or "error"; returns 0 or -1 if unknown. */
int log_level_parse(const char *name, enum log_level *out);

/* Writes "time=<iso8601> level=<level> " followed by the formatted fields. */
void log_write(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_at(level, ...)                                  \
    do {                                                    \
        if ((level) >= log_threshold) log_write(level, __VA_ARGS__); \
    } while (0)
#define log_debug(...) log_at(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_at(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_at(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_at(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
