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

static void chatd_learned_the_topology(void **state) {
    (void)state;
    assert_true(cl_metric("chatd_redis_topology_refreshes_total") >= 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(users_land_on_all_three_masters),
        cmocka_unit_test(chatd_learned_the_topology),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
