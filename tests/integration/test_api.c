/*
 * test_api: the REST API end to end through libchatclient, the slim client:
 * registration, duplicate e-mails (also at once), login, several sessions per
 * user, logout, authorisation, and the history's order, completeness and
 * paging.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <jansson.h>

#include "chatclient.h"
#include "testlib.h"

#define PASSWORD "correct horse battery"

static long long wall_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void register_returns_user_token_and_cookie(void **state) {
    (void)state;
    char email[128], body[256];
    test_email(email, sizeof(email), "Reg");
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"" PASSWORD "\"}", email);
    const char *h[] = {"Content-Type: application/json", NULL};
    struct http_result r;
    assert_int_equal(test_http("POST", "/user/", h, body, strlen(body), &r), 0);
    assert_int_equal(r.status, 201);
    assert_non_null(strstr(r.headers, "Set-Cookie: authKey="));
    assert_non_null(strstr(r.headers, "HttpOnly"));
    assert_non_null(strstr(r.headers, "SameSite=Strict"));
    assert_non_null(strstr(r.body, "\"authKey\":\""));
    test_http_result_free(&r);

    chat_user u;
    test_email(email, sizeof(email), "Reg");
    chat_client *c = chat_client_new(test_url());
    assert_int_equal(chat_register(c, email, PASSWORD, NULL, &u), CHAT_OK);
    assert_int_equal(strlen(u.id), 32);
    /* lower-cased e-mail, default name = the local part as typed, lower-cased */
    assert_int_equal(strncmp(u.email, "reg-", 4), 0);
    assert_int_equal(strncmp(u.name, "reg-", 4), 0);
    assert_non_null(chat_client_token(c));
    assert_int_equal(strlen(chat_client_token(c)), 43);
    chat_user_cleanup(&u);
    chat_client_free(c);
}

static void duplicate_email_is_409_after_normalisation(void **state) {
    (void)state;
    char email[128], shouted[160];
    test_email(email, sizeof(email), "dup");
    snprintf(shouted, sizeof(shouted), "  %s  ", email);
    for (char *p = shouted; *p; p++)
        if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
    chat_client *c = chat_client_new(test_url());
    chat_user u;
    assert_int_equal(chat_register(c, shouted, PASSWORD, "Dup", &u), CHAT_OK);
    assert_string_equal(u.email, email);
    chat_user_cleanup(&u);
    assert_int_equal(chat_register(c, email, PASSWORD, "Dup again", NULL), CHAT_ERR_CONFLICT);
    assert_int_equal(chat_client_status(c), 409);
    chat_client_free(c);
}

#define RACERS 8
struct racer {
    const char *email;
    pthread_barrier_t *start;
    int result;
};

static void *race_register(void *arg) {
    struct racer *r = arg;
    chat_client *c = chat_client_new(test_url());
    pthread_barrier_wait(r->start);
    r->result = chat_register(c, r->email, PASSWORD, NULL, NULL);
    chat_client_free(c);
    return NULL;
}

static void concurrent_registrations_of_one_email_exactly_one_wins(void **state) {
    (void)state;
    char email[128];
    test_email(email, sizeof(email), "race");
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, RACERS);
    pthread_t t[RACERS];
    struct racer r[RACERS];
    for (int i = 0; i < RACERS; i++) {
        r[i] = (struct racer){email, &start, 99};
        pthread_create(&t[i], NULL, race_register, &r[i]);
    }
    int ok = 0, conflict = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(t[i], NULL);
        ok += r[i].result == CHAT_OK;
        conflict += r[i].result == CHAT_ERR_CONFLICT;
    }
    pthread_barrier_destroy(&start);
    assert_int_equal(ok, 1);
    assert_int_equal(conflict, RACERS - 1);
}

static void login_succeeds_and_fails_alike_for_unknown_and_wrong(void **state) {
    (void)state;
    char email[128], body[256];
    chat_user reg, in;
    test_email(email, sizeof(email), "login");
    chat_client *c = chat_client_new(test_url());
    assert_int_equal(chat_register(c, email, PASSWORD, "Lo", &reg), CHAT_OK);
    assert_int_equal(chat_login(c, email, PASSWORD, &in), CHAT_OK);
    assert_string_equal(in.id, reg.id);
    assert_string_equal(in.name, "Lo");
    assert_int_equal(chat_login(c, email, "wrong password", NULL), CHAT_ERR_AUTH);
    assert_int_equal(chat_client_status(c), 401);

    const char *h[] = {"Content-Type: application/json", NULL};
    struct http_result wrong, unknown;
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"not the password\"}", email);
    test_http("PUT", "/user/", h, body, strlen(body), &wrong);
    snprintf(body, sizeof(body), "{\"email\":\"nobody-%s\",\"password\":\"not the password\"}",
             email);
    test_http("PUT", "/user/", h, body, strlen(body), &unknown);
    assert_int_equal(wrong.status, 401);
    assert_int_equal(unknown.status, 401);
    assert_string_equal(wrong.body, unknown.body);
    assert_true(test_is_error(wrong.body, "invalid_credentials"));
    test_http_result_free(&wrong);
    test_http_result_free(&unknown);
    chat_user_cleanup(&reg);
    chat_user_cleanup(&in);
    chat_client_free(c);
}

static void two_clients_of_one_user_both_send(void **state) {
    (void)state;
    chat_user u;
    chat_client *a = test_new_user("multi", &u);
    assert_non_null(a);
    chat_client *b = chat_client_new(test_url());
    assert_int_equal(chat_login(b, u.email, PASSWORD, NULL), CHAT_OK);
    assert_string_not_equal(chat_client_token(a), chat_client_token(b));
    chat_message ma, mb;
    assert_int_equal(chat_send(a, "from laptop", &ma), CHAT_OK);
    assert_int_equal(chat_send(b, "from phone", &mb), CHAT_OK);
    assert_string_equal(ma.user_id, u.id);
    assert_string_equal(mb.user_id, u.id);
    assert_true(strcmp(ma.id, mb.id) != 0);
    chat_message_cleanup(&ma);
    chat_message_cleanup(&mb);
    chat_user_cleanup(&u);
    chat_client_free(a);
    chat_client_free(b);
}

static void logout_ends_only_the_calling_session(void **state) {
    (void)state;
    chat_user u;
    chat_client *a = test_new_user("logout", &u);
    chat_client *b = chat_client_new(test_url());
    assert_int_equal(chat_login(b, u.email, PASSWORD, NULL), CHAT_OK);
    char *old = strdup(chat_client_token(a));
    assert_int_equal(chat_logout(a), CHAT_OK);
    assert_null(chat_client_token(a));
    chat_client_set_token(a, old);
    assert_int_equal(chat_send(a, "after logout", NULL), CHAT_ERR_AUTH);
    assert_int_equal(chat_logout(a), CHAT_ERR_AUTH); /* already ended */
    assert_int_equal(chat_send(b, "still here", NULL), CHAT_OK);
    free(old);
    chat_user_cleanup(&u);
    chat_client_free(a);
    chat_client_free(b);
}

static void send_without_valid_session_is_401(void **state) {
    (void)state;
    chat_client *c = chat_client_new(test_url());
    assert_int_equal(chat_send(c, "anonymous", NULL), CHAT_ERR_USAGE); /* library: no token */
    const char *bad[] = {"garbage", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL};
    for (int i = 0; bad[i]; i++) {
        chat_client_set_token(c, bad[i]);
        assert_int_equal(chat_send(c, "forged", NULL), CHAT_ERR_AUTH);
        assert_int_equal(chat_client_status(c), 401);
    }
    const char *h[] = {"Content-Type: application/json", NULL};
    struct http_result r;
    test_http("POST", "/message/", h, "{\"text\":\"hi\"}", 13, &r);
    assert_int_equal(r.status, 401);
    assert_true(test_is_error(r.body, "unauthorized"));
    test_http_result_free(&r);
    chat_client_free(c);
}

static void bearer_token_is_accepted(void **state) {
    (void)state;
    chat_client *c = test_new_user("bearer", NULL);
    char auth[128];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", chat_client_token(c));
    const char *h[] = {"Content-Type: application/json", auth, NULL};
    struct http_result r;
    test_http("POST", "/message/", h, "{\"text\":\"by bearer\"}", 20, &r);
    assert_int_equal(r.status, 201);
    test_http_result_free(&r);
    chat_client_free(c);
}

static void message_carries_author_and_receive_time(void **state) {
    (void)state;
    chat_user u;
    chat_client *c = test_new_user("Author", &u);
    chat_message m;
    long long before = wall_ms();
    assert_int_equal(chat_send(c, "tempus fugit \xe2\x8f\xb3 <b>", &m), CHAT_OK);
    long long after = wall_ms();
    assert_string_equal(m.text, "tempus fugit \xe2\x8f\xb3 <b>");
    assert_string_equal(m.name, "Author");
    assert_string_equal(m.user_id, u.id);
    assert_true(m.timestamp >= before - 5 && m.timestamp <= after + 5);
    chat_message_cleanup(&m);
    chat_user_cleanup(&u);
    chat_client_free(c);
}

#define HISTORY_N 1200 /* more than two of chatd's read batches */

/* Sends a marker and then HISTORY_N numbered messages from two clients. */
static char *send_numbered(chat_client *a, chat_client *b, char ids[][48]) {
    chat_message m;
    assert_int_equal(chat_send(a, "marker", &m), CHAT_OK);
    char *marker = strdup(m.id);
    chat_message_cleanup(&m);
    for (int i = 0; i < HISTORY_N; i++) {
        char text[32];
        snprintf(text, sizeof(text), "numbered %d", i);
        assert_int_equal(chat_send(i % 2 ? b : a, text, &m), CHAT_OK);
        snprintf(ids[i], 48, "%s", m.id);
        chat_message_cleanup(&m);
    }
    return marker;
}

static void history_is_complete_and_ordered(void **state) {
    (void)state;
    static char ids[HISTORY_N][48];
    chat_client *a = test_new_user("hist", NULL), *b = test_new_user("hist", NULL);
    char *marker = send_numbered(a, b, ids);
    chat_message_list all, after;
    assert_int_equal(chat_history(a, NULL, 0, &all), CHAT_OK);
    assert_int_equal(chat_history(a, marker, 0, &after), CHAT_OK);
    assert_int_equal(after.count, HISTORY_N);
    for (size_t i = 0; i < after.count; i++) {
        char text[32];
        snprintf(text, sizeof(text), "numbered %zu", i);
        assert_string_equal(after.items[i].text, text);
        assert_string_equal(after.items[i].id, ids[i]);
    }
    /* the whole history ends with the same messages, ids strictly increasing */
    assert_true(all.count >= HISTORY_N + 1);
    for (size_t i = 1; i < all.count; i++) {
        unsigned long long pm, ps, cm, cs;
        sscanf(all.items[i - 1].id, "%llu-%llu", &pm, &ps);
        sscanf(all.items[i].id, "%llu-%llu", &cm, &cs);
        assert_true(cm > pm || (cm == pm && cs > ps));
    }
    assert_string_equal(all.items[all.count - 1].id, ids[HISTORY_N - 1]);
    chat_message_list_cleanup(&all);
    chat_message_list_cleanup(&after);

    /* paging with after/limit gives the same sequence */
    char cursor[48];
    snprintf(cursor, sizeof(cursor), "%s", marker);
    size_t seen = 0;
    for (;;) {
        chat_message_list page;
        assert_int_equal(chat_history(a, cursor, 100, &page), CHAT_OK);
        assert_true(page.count <= 100);
        for (size_t i = 0; i < page.count; i++) assert_string_equal(page.items[i].id, ids[seen + i]);
        seen += page.count;
        size_t n = page.count;
        if (n) snprintf(cursor, sizeof(cursor), "%s", page.items[n - 1].id);
        chat_message_list_cleanup(&page);
        if (n < 100) break;
    }
    assert_int_equal(seen, HISTORY_N);
    chat_message_list one;
    assert_int_equal(chat_history(a, marker, 1, &one), CHAT_OK);
    assert_int_equal(one.count, 1);
    assert_string_equal(one.items[0].id, ids[0]);
    chat_message_list_cleanup(&one);
    free(marker);
    chat_client_free(a);
    chat_client_free(b);
}

static void health_is_ok(void **state) {
    (void)state;
    struct http_result r;
    test_http("GET", "/health", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    test_http_result_free(&r);
}

/* POSTs {"text"} to path with the client's session; returns the status. */
static long post_text(chat_client *c, const char *path, const char *text) {
    char cookie[128], body[256];
    snprintf(cookie, sizeof(cookie), "Cookie: authKey=%s", chat_client_token(c));
    snprintf(body, sizeof(body), "{\"text\":\"%s\"}", text);
    const char *h[] = {"Content-Type: application/json", cookie, NULL};
    struct http_result r;
    test_http("POST", path, h, body, strlen(body), &r);
    long status = r.status;
    test_http_result_free(&r);
    return status;
}

static void rooms_are_isolated_and_listed(void **state) {
    (void)state;
    chat_client *c = test_new_user("rooms", NULL);
    char room[32], path[96], cookie[128], body[64];
    snprintf(room, sizeof(room), "team-%u", (unsigned)(test_now_ms() * 1000) % 1000000u);
    snprintf(cookie, sizeof(cookie), "Cookie: authKey=%s", chat_client_token(c));
    snprintf(body, sizeof(body), "{\"name\":\"%s\"}", room);
    const char *h[] = {"Content-Type: application/json", cookie, NULL};
    struct http_result r;
    test_http("POST", "/room/", h, body, strlen(body), &r);
    assert_int_equal(r.status, 201);
    test_http_result_free(&r);
    test_http("GET", "/room/", NULL, NULL, 0, &r);
    assert_non_null(strstr(r.body, "{\"name\":\"lobby\"}"));
    assert_non_null(strstr(r.body, room));
    test_http_result_free(&r);
    chat_message marker;
    assert_int_equal(chat_send(c, "lobby marker", &marker), CHAT_OK);
    snprintf(path, sizeof(path), "/room/%s/message/", room);
    assert_int_equal(post_text(c, path, "only in the room"), 201);
    assert_int_equal(chat_send(c, "lobby again", NULL), CHAT_OK);
    test_http("GET", path, NULL, NULL, 0, &r);
    assert_non_null(strstr(r.body, "only in the room"));
    assert_null(strstr(r.body, "lobby"));
    test_http_result_free(&r);
    chat_message_list lobby;
    assert_int_equal(chat_history(c, marker.id, 0, &lobby), CHAT_OK);
    assert_int_equal(lobby.count, 1);
    assert_string_equal(lobby.items[0].text, "lobby again");
    chat_message_list_cleanup(&lobby);
    assert_int_equal(post_text(c, "/room/Not%20Valid/message/", "x"), 400);
    test_http("GET", "/room/UPPER/message/", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 400);
    assert_true(test_is_error(r.body, "invalid_room"));
    test_http_result_free(&r);
    chat_message_cleanup(&marker);
    chat_client_free(c);
}

/* The value of header name in raw response headers, or "". */
static void header_value(const char *headers, const char *name, char *out, size_t size) {
    const char *h = strstr(headers, name);
    out[0] = '\0';
    if (!h) return;
    h += strlen(name) + 2;
    size_t len = strcspn(h, "\r\n");
    snprintf(out, size, "%.*s", (int)(len < size ? len : size - 1), h);
}

/* A send does not create a room: only POST /room/ does. */
static void sending_to_a_room_never_created_is_404(void **state) {
    (void)state;
    chat_client *c = test_new_user("norooms", NULL);
    char room[48], path[96];
    snprintf(room, sizeof(room), "never-%u", (unsigned)(test_now_ms() * 1000) % 1000000u);
    snprintf(path, sizeof(path), "/room/%s/message/", room);
    struct http_result r;
    char cookie[128];
    snprintf(cookie, sizeof(cookie), "Cookie: authKey=%s", chat_client_token(c));
    const char *h[] = {"Content-Type: application/json", cookie, NULL};
    test_http("POST", path, h, "{\"text\":\"x\"}", 12, &r);
    assert_int_equal(r.status, 404);
    assert_true(test_is_error(r.body, "not_found"));
    test_http_result_free(&r);
    assert_int_equal(test_create_room(c, room), 201);
    assert_int_equal(post_text(c, path, "now it exists"), 201);
    chat_client_free(c);
}

/* GET /room/ in pages: the lobby first on the first page, then names in
 * order; X-Next-After names the last of a full page; the default page is
 * bounded; a bad after or limit is 400 invalid_query. */
static void the_room_list_pages(void **state) {
    (void)state;
    chat_client *c = test_new_user("pages", NULL);
    enum { ROOMS = 105 };
    char prefix[32], name[64], path[128], after[64] = "";
    snprintf(prefix, sizeof(prefix), "p%u", (unsigned)(test_now_ms() * 1000) % 1000000u);
    for (int i = 0; i < ROOMS; i++) {
        snprintf(name, sizeof(name), "%s-%03d", prefix, i);
        assert_int_equal(test_create_room(c, name), 201);
    }
    struct http_result r;
    test_http("GET", "/room/", NULL, NULL, 0, &r);
    json_t *page = json_loads(r.body, 0, NULL);
    assert_true(json_array_size(page) <= 101); /* 100 by default, and the lobby */
    header_value(r.headers, "X-Next-After", after, sizeof(after));
    assert_true(after[0] != '\0');
    json_decref(page);
    test_http_result_free(&r);
    int seen = 0; /* follow pages of 7 from just before the prefix */
    snprintf(after, sizeof(after), "%s", prefix);
    for (int pages = 0; after[0] && pages < 100; pages++) {
        snprintf(path, sizeof(path), "/room/?limit=7&after=%s", after);
        test_http("GET", path, NULL, NULL, 0, &r);
        assert_int_equal(r.status, 200);
        page = json_loads(r.body, 0, NULL);
        size_t i;
        json_t *room;
        json_array_foreach(page, i, room) {
            const char *got = json_string_value(json_object_get(room, "name"));
            if (strncmp(got, prefix, strlen(prefix)) != 0) continue; /* rooms of other tests */
            snprintf(name, sizeof(name), "%s-%03d", prefix, seen++);
            assert_string_equal(got, name);
        }
        header_value(r.headers, "X-Next-After", after, sizeof(after));
        json_decref(page);
        test_http_result_free(&r);
    }
    assert_int_equal(seen, ROOMS);
    const char *bad[] = {"/room/?limit=0", "/room/?limit=1001", "/room/?after=UPPER",
                         "/room/?limit=x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        test_http("GET", bad[i], NULL, NULL, 0, &r);
        assert_int_equal(r.status, 400);
        assert_true(test_is_error(r.body, "invalid_query"));
        test_http_result_free(&r);
    }
    chat_client_free(c);
}

static void scroll_back_pages_with_before(void **state) {
    (void)state;
    chat_client *c = test_new_user("scroll", NULL);
    char room[32], path[160], ids[7][48];
    snprintf(room, sizeof(room), "scroll-%u", (unsigned)(test_now_ms() * 1000) % 1000000u);
    assert_int_equal(test_create_room(c, room), 201);
    for (int i = 0; i < 7; i++) {
        char text[16];
        snprintf(text, sizeof(text), "old %d", i);
        snprintf(path, sizeof(path), "/room/%s/message/", room);
        assert_int_equal(post_text(c, path, text), 201);
    }
    char before[48] = "99999999999999-0";
    int seen = 0;
    for (int page = 0; page < 3; page++) {
        snprintf(path, sizeof(path), "/room/%s/message/?before=%s&limit=3", room, before);
        struct http_result r;
        test_http("GET", path, NULL, NULL, 0, &r);
        assert_int_equal(r.status, 200);
        json_error_t err;
        json_t *list = json_loads(r.body, 0, &err);
        size_t n = json_array_size(list);
        assert_int_equal(n, page < 2 ? 3 : 1); /* 3 + 3 + 1, newest pages first */
        for (size_t i = 0; i < n; i++) {
            char want[16];
            snprintf(want, sizeof(want), "old %d", 7 - seen - (int)n + (int)i);
            assert_string_equal(json_string_value(json_object_get(json_array_get(list, i), "text")),
                                want);
            snprintf(ids[7 - seen - n + i], 48, "%s",
                     json_string_value(json_object_get(json_array_get(list, i), "id")));
        }
        seen += (int)n;
        header_value(r.headers, "X-Next-Before", before, sizeof(before));
        if (page < 2) assert_string_equal(before, ids[7 - seen]);
        else assert_string_equal(before, ""); /* a short page: the beginning */
        json_decref(list);
        test_http_result_free(&r);
    }
    assert_int_equal(seen, 7);
    chat_client_free(c);
}

static void metrics_cover_requests_redis_and_workers(void **state) {
    (void)state;
    struct http_result r;
    test_http("GET", "/metrics", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers, "Content-Type: text/plain; version=0.0.4"));
    const char *families[] = {
        "chatd_http_requests_total{route=\"/message\",method=\"POST\",status=\"201\"} ",
        "chatd_http_request_duration_seconds_bucket{le=\"+Inf\"} ",
        "chatd_messages_sent_total ", "chatd_open_streams ", "chatd_redis_commands_total ",
        "chatd_redis_redirects_total{kind=\"moved\"} ", "chatd_redis_retries_total ",
        "chatd_redis_errors_total ", "chatd_worker_queue_depth ",
        "chatd_session_cache_hits_total ", "chatd_session_cache_misses_total ",
        "chatd_session_cache_invalidations_total ", "chatd_session_cache_flushes_total ",
        "chatd_session_cache_entries ", "chatd_session_events_subscribed ", NULL};
    for (int i = 0; families[i]; i++)
        if (!strstr(r.body, families[i])) fail_msg("/metrics lacks %s", families[i]);
    test_http_result_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(health_is_ok),
        cmocka_unit_test(register_returns_user_token_and_cookie),
        cmocka_unit_test(duplicate_email_is_409_after_normalisation),
        cmocka_unit_test(concurrent_registrations_of_one_email_exactly_one_wins),
        cmocka_unit_test(login_succeeds_and_fails_alike_for_unknown_and_wrong),
        cmocka_unit_test(two_clients_of_one_user_both_send),
        cmocka_unit_test(logout_ends_only_the_calling_session),
        cmocka_unit_test(send_without_valid_session_is_401),
        cmocka_unit_test(bearer_token_is_accepted),
        cmocka_unit_test(message_carries_author_and_receive_time),
        cmocka_unit_test(history_is_complete_and_ordered),
        cmocka_unit_test(metrics_cover_requests_redis_and_workers),
        cmocka_unit_test(rooms_are_isolated_and_listed),
        cmocka_unit_test(sending_to_a_room_never_created_is_404),
        cmocka_unit_test(the_room_list_pages),
        cmocka_unit_test(scroll_back_pages_with_before),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
