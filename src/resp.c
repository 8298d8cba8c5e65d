/* resp: the Redis protocol encoding of a command, see resp.h. */
#include "resp.h"

#include <stdlib.h>
#include <string.h>

/* Decimal digits of n. */
static size_t digit_count(size_t n) {
    size_t d = 1;
    while (n >= 10) {
        n /= 10;
        d++;
    }
    return d;
}

/* Writes "<prefix><n>\r\n" at p; returns the end. */
static char *put_header(char *p, char prefix, size_t n) {
    size_t d = digit_count(n);
    *p++ = prefix;
    for (size_t i = d; i > 0; i--) {
        p[i - 1] = (char)('0' + n % 10);
        n /= 10;
    }
    p += d;
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

size_t resp_format_len(int argc, const char **argv, const size_t *argvlen) {
    size_t total = 1 + digit_count((size_t)argc) + 2;
    for (int i = 0; i < argc; i++) {
        size_t n = argvlen ? argvlen[i] : strlen(argv[i]);
        total += 1 + digit_count(n) + 2 + n + 2;
    }
    return total;
}

void resp_format_into(char *out, int argc, const char **argv, const size_t *argvlen) {
    char *p = put_header(out, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        size_t n = argvlen ? argvlen[i] : strlen(argv[i]);
        p = put_header(p, '$', n);
        memcpy(p, argv[i], n);
        p += n;
        *p++ = '\r';
        *p++ = '\n';
    }
    *p = '\0';
}

char *resp_format_argv(size_t *len, int argc, const char **argv, const size_t *argvlen) {
    if (argc < 0) return NULL;
    size_t total = resp_format_len(argc, argv, argvlen);
    char *out = malloc(total + 1);
    if (!out) return NULL;
    resp_format_into(out, argc, argv, argvlen);
    *len = total;
    return out;
}
