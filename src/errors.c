/* errors: lookups into the error table of errors.h. */
#include "errors.h"

struct error_row {
    int status;
    const char *code;
    const char *message;
};

static const struct error_row error_rows[] = {
#define CHAT_ERROR_ROW(name, status, code, message) {status, code, message},
    CHAT_ERROR_TABLE(CHAT_ERROR_ROW)
#undef CHAT_ERROR_ROW
};

static const struct error_row *row_of(chat_error e) {
    unsigned i = (unsigned)e;
    if (i >= sizeof(error_rows) / sizeof(error_rows[0])) i = CHAT_E_INTERNAL;
    return &error_rows[i];
}

int chat_error_status(chat_error e) { return row_of(e)->status; }
const char *chat_error_code(chat_error e) { return row_of(e)->code; }
const char *chat_error_message(chat_error e) { return row_of(e)->message; }
