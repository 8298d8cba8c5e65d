/* errors: lookups into the error table of errors.h. */
#include "errors.h"

struct error_row {
    int status;
    const char *code;
    const char *message;
};

static const struct error_row error_rows[] = {
#define API_ERROR_ROW(name, status, code, message) {status, code, message},
    API_ERROR_TABLE(API_ERROR_ROW)
#undef API_ERROR_ROW
};

static const struct error_row *row_of(api_error e) {
    unsigned i = (unsigned)e;
    if (i >= sizeof(error_rows) / sizeof(error_rows[0])) i = API_E_INTERNAL;
    return &error_rows[i];
}

int api_error_status(api_error e) { return row_of(e)->status; }
const char *api_error_code(api_error e) { return row_of(e)->code; }
const char *api_error_message(api_error e) { return row_of(e)->message; }
