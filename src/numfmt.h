/*
 * numfmt: integers written as text without the printf machinery, for the
 * paths every request takes (reply headers, message JSON, Redis commands).
 * Each writes at p, adds no NUL, and returns the end. Pure.
 */
#ifndef CHAT_NUMFMT_H
#define CHAT_NUMFMT_H

/* Digits of the longest value any of these writes (a sign and 20 digits). */
#define NUMFMT_MAX 21

/* What "%lld" prints. */
char *numfmt_decimal(char *p, long long v);
/* What "%llu" prints. */
char *numfmt_unsigned(char *p, unsigned long long v);
/* What "%0*llx" prints with min_digits (lower case; at most 16). */
char *numfmt_hex(char *p, unsigned long long v, int min_digits);

#endif
