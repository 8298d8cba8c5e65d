/*
 * test_spread: on the cluster, users (keyed by e-mail) spread over all three
 * masters, and chatd follows the topology it discovered from its seeds.
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
#include "clusterlib.h"
#include "testlib.h"

#define USERS 30

static void users_land_on_all_three_masters(void **state) {
    (void)state;
    int masters[USERS], distinct[3] = {0}, ndistinct = 0;
    for (int i = 0; i < USERS; i++) {
        chat_user u;
        chat_client *c = test_new_user("spread", &u);
        assert_non_null(c);
        char key[256];
        snprintf(key, sizeof(key), "user:%s", u.email);
        masters[i] = cl_master_of(key);
        assert_true(masters[i] > 0);
        /* the record really is on that master */
        char out[64], cmd[512];
        snprintf(cmd, sizeof(cmd), "redis-cli -p %d exists '%s'", masters[i], key);
        assert_int_equal(cl_sh(out, sizeof(out), "%s", cmd), 0);
        assert_string_equal(out, "1");
        chat_user_cleanup(&u);
        chat_client_free(c);
    }
    for (int i = 0; i < USERS; i++) {
        bool seen = false;
        for (int k = 0; k < ndistinct; k++) seen |= distinct[k] == masters[i];
        if (!seen && ndistinct < 3) distinct[ndistinct++] = masters[i];
    }
    printf("# %d users on masters %d, %d, %d\n", USERS, distinct[0], distinct[1], distinct[2]);
    assert_int_equal(ndistinct, 3);
}

static void rooms_land_on_different_masters(void **state) {
    (void)state;
    chat_client *c = test_new_user("rooms", NULL);
    char cookie[128];
    snprintf(cookie, sizeof(cookie), "Cookie: authKey=%s", chat_client_token(c));
    const char *h[] = {"Content-Type: application/json", cookie, NULL};
    int masters[3] = {0}, found = 0;
    for (int i = 0; i < 30 && found < 3; i++) {
        char room[32], key[64], path[96], out[16];
        snprintf(room, sizeof(room), "spread-%d", i);
        snprintf(key, sizeof(key), "room:{%s}:messages", room);
        int m = cl_master_of(key);
        bool seen = false;
        for (int k = 0; k < found; k++) seen |= masters[k] == m;
        if (seen) continue;
        long created = test_create_room(c, room);
        assert_true(created == 201 || created == 200);
        snprintf(path, sizeof(path), "/room/%s/message/", room);
        struct http_result r;
        test_http("POST", path, h, "{\"text\":\"hello\"}", 16, &r);
        assert_int_equal(r.status, 201);
        test_http_result_free(&r);
        assert_int_equal(cl_sh(out, sizeof(out), "redis-cli -p %d exists '%s'", m, key), 0);
        assert_string_equal(out, "1");
        masters[found++] = m;
    }
    printf("# rooms on masters %d, %d, %d\n", masters[0], masters[1], masters[2]);
    assert_int_equal(found, 3);
    chat_client_free(c);
}

static void chatd_learned_the_topology(void **state) {
    (void)state;
    assert_true(cl_metric("chatd_redis_topology_refreshes_total") >= 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(users_land_on_all_three_masters),
        cmocka_unit_test(rooms_land_on_different_masters),
        cmocka_unit_test(chatd_learned_the_topology),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
