/* numfmt: integers as text without printf, see numfmt.h. */
#include "numfmt.h"

char *numfmt_unsigned(char *p, unsigned long long v) {
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) *p++ = digits[--n];
    return p;
}

char *numfmt_decimal(char *p, long long v) {
    if (v < 0) *p++ = '-';
    return numfmt_unsigned(p, v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v);
}

char *numfmt_hex(char *p, unsigned long long v, int min_digits) {
    char digits[16];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    for (int i = n; i < min_digits; i++) *p++ = '0';
    while (n) *p++ = digits[--n];
    return p;
}
