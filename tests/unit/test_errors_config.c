/*
 * Unit tests for errors.c (the error table) and config.c (defaults, the
 * CHATD_* environment, flags and their errors, --help).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "errors.h"

/* ---- errors ---- */

struct row {
    api_error e;
    const char *name;
    int status;
    const char *code;
};

static const struct row rows[] = {
#define ROW(name, status, code, message) {name, #name, status, code},
    API_ERROR_TABLE(ROW)
#undef ROW
};
#define ROW_COUNT (sizeof(rows) / sizeof(rows[0]))

static void test_error_statuses(void **state) {
    (void)state;
    for (size_t i = 0; i < ROW_COUNT; i++) {
        int status = api_error_status(rows[i].e);
        assert_int_equal(status, rows[i].status);
        if (rows[i].e == API_E_OK)
            assert_int_equal(status, 200);
        else
            assert_in_range(status, 400, 599);
    }
}

static void test_error_codes_unique(void **state) {
    (void)state;
    for (size_t i = 0; i < ROW_COUNT; i++) {
        const char *code = api_error_code(rows[i].e);
        assert_non_null(code);
        assert_string_equal(code, rows[i].code);
        assert_true(strlen(code) > 0);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(code, api_error_code(rows[j].e));
    }
}

static void test_error_messages(void **state) {
    (void)state;
    for (size_t i = 0; i < ROW_COUNT; i++) {
        const char *m = api_error_message(rows[i].e);
        assert_non_null(m);
        assert_true(strlen(m) > 0);
    }
    assert_string_equal(api_error_message(API_E_INVALID_EMAIL), "The e-mail address is invalid.");
}

static void test_error_enum_is_row_index(void **state) {
    (void)state;
    for (size_t i = 0; i < ROW_COUNT; i++)
        assert_int_equal(rows[i].e, i);
    assert_int_equal(api_error_status(API_E_EMAIL_TAKEN), 409);
    assert_string_equal(api_error_code(API_E_BAD_CREDENTIALS), "invalid_credentials");
}

static void test_storage_full_is_507(void **state) {
    (void)state;
    assert_int_equal(api_error_status(API_E_STORAGE_FULL), 507);
    assert_string_equal(api_error_code(API_E_STORAGE_FULL), "storage_full");
}

static void test_error_out_of_range_is_internal(void **state) {
    (void)state;
    api_error bogus = (api_error)(ROW_COUNT + 7);
    assert_int_equal(api_error_status(bogus), 500);
    assert_string_equal(api_error_code(bogus), "internal");
}

/* ---- config ---- */

static const char *const env_names[] = {
    "CHATD_BIND",          "CHATD_PORT",          "CHATD_REDIS",
    "CHATD_REDIS_TIMEOUT", "CHATD_WORKERS",       "CHATD_MAX_BODY",
    "CHATD_SESSION_TTL",   "CHATD_HISTORY_BATCH", "CHATD_LOG_LEVEL",
    "CHATD_WEBHOOK",
};

/* Each config test starts from an environment without CHATD_* variables. */
static int clear_env(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(env_names) / sizeof(env_names[0]); i++)
        if (unsetenv(env_names[i]) != 0) return -1;
    return 0;
}

/* config_load on a NULL-terminated argument list (argv[0] is "chatd"). */
static int load(struct config *cfg, char err[256], const char *const *args) {
    char *argv[16] = {"chatd"};
    int argc = 1;
    for (; args && args[argc - 1]; argc++)
        argv[argc] = (char *)args[argc - 1];
    err[0] = '\0';
    return config_load(cfg, argc, argv, err);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_config_defaults(void **state) {
    (void)state;
    struct config cfg;
    char err[256];
    assert_int_equal(load(&cfg, err, NULL), 0);
    assert_string_equal(cfg.bind, "0.0.0.0");
    assert_int_equal(cfg.port, 8182);
    assert_string_equal(cfg.redis, "127.0.0.1:6379");
    assert_int_equal(cfg.redis_timeout_ms, 2000);
    assert_int_equal(cfg.workers, 2);
    assert_string_equal(cfg.worker_priority, "idle");
    assert_int_equal(cfg.max_body, 65536);
    assert_int_equal(cfg.session_ttl, 2592000);
    assert_int_equal(cfg.history_batch, 500);
    assert_int_equal(cfg.history_max_messages, 0); /* keep everything, as before */
    assert_int_equal(cfg.history_max_age, 0);
    assert_string_equal(cfg.log_level, "info");
}

static void test_config_env_override(void **state) {
    (void)state;
    struct config cfg;
    char err[256];
    setenv("CHATD_PORT", "9000", 1);
    setenv("CHATD_REDIS", "10.0.0.1:7000,10.0.0.2:7001", 1);
    setenv("CHATD_LOG_LEVEL", "debug", 1);
    assert_int_equal(load(&cfg, err, NULL), 0);
    assert_int_equal(cfg.port, 9000);
    assert_string_equal(cfg.redis, "10.0.0.1:7000,10.0.0.2:7001");
    assert_string_equal(cfg.log_level, "debug");
    assert_int_equal(cfg.workers, 2);
    /* An empty variable counts as unset. */
    setenv("CHATD_PORT", "", 1);
    assert_int_equal(load(&cfg, err, NULL), 0);
    assert_int_equal(cfg.port, 8182);
}

static void test_config_flag_beats_env(void **state) {
    (void)state;
    struct config cfg;
    char err[256];
    setenv("CHATD_PORT", "9000", 1);
    setenv("CHATD_BIND", "10.1.1.1", 1);
    assert_int_equal(load(&cfg, err, ARGS("--port", "9100", "--bind", "127.0.0.1")), 0);
    assert_int_equal(cfg.port, 9100);
    assert_string_equal(cfg.bind, "127.0.0.1");
}

/* --webhook is a list: each flag adds an entry, after the variable's. */
static void test_config_list_option(void **state) {
    (void)state;
    struct config cfg;
    char err[256];
    assert_int_equal(load(&cfg, err, NULL), 0);
    assert_string_equal(cfg.webhooks, "");
    assert_int_equal(load(&cfg, err, ARGS("--webhook", "http://a.example/1",
                                          "--webhook=http://b.example/2,member.left")), 0);
    assert_string_equal(cfg.webhooks, "http://a.example/1 http://b.example/2,member.left");
    setenv("CHATD_WEBHOOK", "http://e.example/0", 1);
    assert_int_equal(load(&cfg, err, ARGS("--webhook", "http://a.example/1")), 0);
    assert_string_equal(cfg.webhooks, "http://e.example/0 http://a.example/1");
    char big[5000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(load(&cfg, err, ARGS("--webhook", big)), -1);
    assert_non_null(strstr(err, "--webhook"));
}

static void test_config_inline_value(void **state) {
    (void)state;
    struct config cfg;
    char err[256];
    assert_int_equal(load(&cfg, err, ARGS("--port=9200", "--workers=8", "--log-level=warn")), 0);
    assert_int_equal(cfg.port, 9200);
    assert_int_equal(cfg.workers, 8);
    assert_string_equal(cfg.log_level, "warn");
}

static void test_config_prefix_flags(void **state) {
    (void)state;
    struct config cfg;
    char err[256];
    /* --redis is a prefix of --redis-timeout; each must land in its field. */
    assert_int_equal(load(&cfg, err, ARGS("--redis-timeout=50", "--redis", "h:1")), 0);
    assert_int_equal(cfg.redis_timeout_ms, 50);
    assert_string_equal(cfg.redis, "h:1");
    assert_int_equal(load(&cfg, err, ARGS("--redis=h:2", "--redis-timeout", "60")), 0);
    assert_int_equal(cfg.redis_timeout_ms, 60);
    assert_string_equal(cfg.redis, "h:2");
}

static void test_config_bad_number(void **state) {
    (void)state;
    struct config cfg;
    char err[256];
    assert_int_equal(load(&cfg, err, ARGS("--port", "abc")), -1);
    assert_non_null(strstr(err, "--port"));
    assert_non_null(strstr(err, "abc"));
    static const char *const bad[] = {
        "--port=12x",   "--port=",        "--port=0",
        "--port=65536", "--port=-1",      "--port=99999999999999999999",
        "--workers=0",  "--max-body=1023"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(load(&cfg, err, ARGS(bad[i])), -1);
        assert_true(strlen(err) > 0);
    }
    /* The limits themselves are fine. */
    assert_int_equal(load(&cfg, err, ARGS("--port=1")), 0);
    assert_int_equal(load(&cfg, err, ARGS("--port=65535")), 0);
    assert_int_equal(cfg.port, 65535);
}

static void test_config_bad_env_number(void **state) {
    (void)state;
    struct config cfg;
    char err[256];
    setenv("CHATD_PORT", "eighty", 1);
    assert_int_equal(load(&cfg, err, NULL), -1);
    assert_non_null(strstr(err, "eighty"));
}

static void test_config_missing_value(void **state) {
    (void)state;
    struct config cfg;
    char err[256];
    assert_int_equal(load(&cfg, err, ARGS("--port")), -1);
    assert_non_null(strstr(err, "--port"));
}

static void test_config_string_too_long(void **state) {
    (void)state;
    struct config cfg;
    char err[256], big[sizeof(cfg.bind) + 1];
    memset(big, '1', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(load(&cfg, err, ARGS("--bind", big)), -1);
    assert_non_null(strstr(err, "--bind"));
    big[sizeof(big) - 2] = '\0'; /* 63 bytes fit in 64 */
    assert_int_equal(load(&cfg, err, ARGS("--bind", big)), 0);
    assert_string_equal(cfg.bind, big);
}

static void test_config_unknown_flag(void **state) {
    (void)state;
    struct config cfg;
    char err[256];
    assert_int_equal(load(&cfg, err, ARGS("--nope")), -1);
    assert_non_null(strstr(err, "--nope"));
    assert_int_equal(load(&cfg, err, ARGS("--portx=1")), -1);
    assert_int_equal(load(&cfg, err, ARGS("8182")), -1);
    assert_int_equal(load(&cfg, err, ARGS("-p", "8182")), -1);
}

/* Runs config_load with stdout sent to a temporary file; returns the result
 * and leaves what was printed in out. */
static int load_capturing_stdout(struct config *cfg, char err[256], const char *const *args,
                                 char *out, size_t size) {
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(tmp), STDOUT_FILENO) >= 0);
    int rc = load(cfg, err, args);
    fflush(stdout);
    assert_true(dup2(saved, STDOUT_FILENO) >= 0);
    close(saved);
    rewind(tmp);
    size_t n = fread(out, 1, size - 1, tmp);
    out[n] = '\0';
    fclose(tmp);
    return rc;
}

static void test_config_help(void **state) {
    (void)state;
    struct config cfg;
    char err[256], out[32768];
    assert_int_equal(load_capturing_stdout(&cfg, err, ARGS("--help"), out, sizeof(out)), 1);
    assert_non_null(strstr(out, "--port"));
    assert_non_null(strstr(out, "CHATD_PORT"));
    assert_non_null(strstr(out, "8182"));
    assert_int_equal(load_capturing_stdout(&cfg, err, ARGS("--port=1", "-h"), out, sizeof(out)), 1);
    assert_non_null(strstr(out, "--help"));
}

int main(void) {
    const struct CMUnitTest error_tests[] = {
        cmocka_unit_test(test_error_statuses),
        cmocka_unit_test(test_error_codes_unique),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_error_enum_is_row_index),
        cmocka_unit_test(test_error_out_of_range_is_internal),
        cmocka_unit_test(test_storage_full_is_507),
    };
    const struct CMUnitTest config_tests[] = {
        cmocka_unit_test_setup_teardown(test_config_defaults, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_config_env_override, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_config_flag_beats_env, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_config_inline_value, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_config_list_option, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_config_prefix_flags, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_config_bad_number, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_config_bad_env_number, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_config_missing_value, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_config_string_too_long, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_config_unknown_flag, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_config_help, clear_env, clear_env),
    };
    int failed = cmocka_run_group_tests_name("errors", error_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("config", config_tests, NULL, NULL);
    return failed;
}
