/*
 * test_https: the client library through HAProxy's HTTPS port (TLS ends at
 * HAProxy, which may speak HTTP/2 to the client; chatd gets HTTP/1.1). With
 * the generated certificate as its CA file (chat_client_set_cacert) the
 * client registers, sends, reads the history and follows the room live;
 * with another CA, or the system's, the first call fails at once, without
 * retries, saying that the certificate is not trusted.
 *
 * The environment (tests/stack/run.sh): CHAT_TLS_URL (https://localhost:<port>),
 * CHAT_CACERT (the server's self-signed certificate) and CHAT_WRONG_CACERT
 * (a certificate that did not sign it).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chatclient.h"
#include "testlib.h"

#define PASSWORD "correct horse battery"

static const char *env(const char *name) {
    const char *v = getenv(name);
    if (!v) fail_msg("%s is not set", name);
    return v;
}

/* A client of the HTTPS port that trusts the CA file cacert (NULL: the system's). */
static chat_client *tls_client(const char *cacert) {
    chat_client *c = chat_client_new(env("CHAT_TLS_URL"));
    assert_non_null(c);
    assert_int_equal(chat_client_set_cacert(c, cacert), CHAT_OK);
    return c;
}

/* Stops the tail at the message whose text is arg. */
static int stop_at_text(const chat_message *m, void *arg) {
    return strcmp(m->text, (const char *)arg) == 0;
}

static void the_client_works_over_https_with_the_right_ca(void **state) {
    (void)state;
    char email[128], text[160];
    chat_client *c = tls_client(env("CHAT_CACERT"));
    test_email(email, sizeof(email), "tls");
    assert_int_equal(chat_register(c, email, PASSWORD, "Tls", NULL), CHAT_OK);
    chat_message sent = {0};
    snprintf(text, sizeof(text), "over TLS %s", email);
    assert_int_equal(chat_send(c, text, &sent), CHAT_OK);
    /* the history from just before it holds it */
    char before[40];
    snprintf(before, sizeof(before), "%lld-0", (long long)sent.timestamp - 1);
    chat_message_list list = {0};
    assert_int_equal(chat_history(c, before, 0, &list), CHAT_OK);
    int found = 0;
    for (size_t i = 0; i < list.count; i++) found |= strcmp(list.items[i].id, sent.id) == 0;
    assert_true(found);
    chat_message_list_cleanup(&list);
    /* and so does the event stream from there */
    assert_int_equal(chat_tail(c, NULL, before, stop_at_text, text), CHAT_OK);
    assert_string_equal(chat_client_last_event_id(c), sent.id);
    chat_message_cleanup(&sent);
    assert_int_equal(chat_logout(c), CHAT_OK);
    chat_client_free(c);
}

/* The first call with an untrusting client fails at once and says why. */
static void assert_untrusted(const char *cacert) {
    chat_client *c = tls_client(cacert);
    char email[128];
    test_email(email, sizeof(email), "tls-untrusted");
    assert_int_equal(chat_login(c, email, PASSWORD, NULL), CHAT_ERR_NETWORK);
    assert_int_equal(chat_client_attempts(c), 1);
    assert_int_equal(chat_client_status(c), 0);
    const char *why = chat_client_error(c);
    if (!strstr(why, "certificate is not trusted")) fail_msg("error: %s", why);
    chat_client_free(c);
}

static void another_ca_is_refused_clearly(void **state) {
    (void)state;
    assert_untrusted(env("CHAT_WRONG_CACERT"));
    assert_untrusted(NULL); /* the system's CAs do not know a self-signed one */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_client_works_over_https_with_the_right_ca),
        cmocka_unit_test(another_ca_is_refused_clearly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
