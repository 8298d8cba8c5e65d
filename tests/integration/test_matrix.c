/*
 * test_matrix: the authorization matrix. Every route about a room, for
 * each kind of room (public, private, direct) and each kind of caller
 * (anonymous, a logged-in non-member, member, moderator, owner, banned,
 * site administrator), asserting the status the table below gives. An
 * invited user is a member at once, so "member" covers both. Each row runs
 * its routes left to right on rooms shared by the rows; what a row changes
 * (a join, an invitation, a ban, a removal, a leave) is put back by the
 * site administrator before the next row, and a reaction by the caller's
 * own DELETE in the next column. The same table is in
 * docs/API.md ("The authorization matrix"): with CHAT_API_DOC set, the
 * test checks that the documentation says exactly what it asserts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chatclient.h"
#include "testlib.h"

#define THUMBS "\xF0\x9F\x91\x8D" /* the emoji of the reaction columns */

enum { ANON, OUTSIDER, MEMBER, MODERATOR, OWNER, BANNED, ADMIN, NSUBJECTS };
enum { KIND_PUBLIC, KIND_PRIVATE, KIND_DIRECT, NKINDS };
enum {
    R_HISTORY, R_BEFORE, R_WAIT, R_STREAM, R_MULTI, R_SEND, R_MEMBERS, R_JOIN, R_INVITE,
    R_ROLE, R_BAN, R_REMOVE, R_REMOVE_MESSAGE, R_EDIT, R_REACT, R_UNREACT, R_READ, R_TYPING,
    R_PRESENCE, R_LEAVE, R_LISTED, NROUTES
};

static const char *const subject_names[NSUBJECTS] = {
    "anonymous", "non-member", "member", "moderator", "owner", "banned", "site admin"};
static const char *const kind_names[NKINDS] = {"public", "private", "direct"};
static const char *const route_names[NROUTES] = {
    "`GET message/`", "`?before=`", "`?wait=`", "`GET message/stream`", "`GET /stream?rooms=`",
    "`POST message/`", "`GET member`", "`POST member {}` (join)", "`POST member` (invite)",
    "`PUT member` (role)", "`PUT member` (ban)", "`DELETE member?userId=`",
    "`DELETE message/?id=`", "`PATCH message/?id=` (edit)", "`PUT message/reaction?id=`",
    "`DELETE message/reaction?id=`", "`PUT read`", "`POST typing`", "`GET presence`",
    "`DELETE member` (leave)", "in `GET /room/`"};

/* The expected answers: [kind][subject][route]; "-" where the kind has no
 * such caller. Cells read "public/private/direct" in the documentation. */
static const char *const expected[NKINDS][NSUBJECTS][NROUTES] = {[KIND_PUBLIC] = {
        [ANON] = {"200", "200", "200", "200", "200", "401", "200", "401", "401", "401", "401", "401", "401", "401", "401", "401", "401", "401", "200", "401", "yes"},
        [OUTSIDER] = {"200", "200", "200", "200", "200", "201", "200", "200", "403", "403", "403", "403", "403", "403", "200", "200", "200", "204", "200", "200", "yes"},
        [MEMBER] = {"200", "200", "200", "200", "200", "201", "200", "200", "403", "403", "403", "403", "403", "403", "200", "200", "200", "204", "200", "200", "yes"},
        [MODERATOR] = {"200", "200", "200", "200", "200", "201", "200", "200", "200", "403", "200", "200", "200", "403", "200", "200", "200", "204", "200", "200", "yes"},
        [OWNER] = {"200", "200", "200", "200", "200", "201", "200", "200", "200", "200", "200", "200", "200", "200", "200", "200", "200", "204", "200", "409", "yes"},
        [BANNED] = {"200", "200", "200", "200", "200", "403", "200", "403", "403", "403", "403", "403", "403", "403", "403", "403", "200", "403", "200", "200", "yes"},
        [ADMIN] = {"200", "200", "200", "200", "200", "201", "200", "200", "200", "200", "200", "200", "200", "403", "200", "200", "200", "204", "200", "200", "yes"},
    },
    [KIND_PRIVATE] = {
        [ANON] = {"404", "404", "404", "404", "404", "401", "404", "401", "401", "401", "401", "401", "401", "401", "401", "401", "401", "401", "404", "401", "no"},
        [OUTSIDER] = {"404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "no"},
        [MEMBER] = {"200", "200", "200", "200", "200", "201", "200", "200", "403", "403", "403", "403", "403", "403", "200", "200", "200", "204", "200", "200", "yes"},
        [MODERATOR] = {"200", "200", "200", "200", "200", "201", "200", "200", "200", "403", "200", "200", "200", "403", "200", "200", "200", "204", "200", "200", "yes"},
        [OWNER] = {"200", "200", "200", "200", "200", "201", "200", "200", "200", "200", "200", "200", "200", "200", "200", "200", "200", "204", "200", "409", "yes"},
        [BANNED] = {"404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "no"},
        [ADMIN] = {"200", "200", "200", "200", "200", "201", "200", "404", "200", "200", "200", "200", "200", "403", "200", "200", "200", "204", "200", "404", "no"},
    },
    [KIND_DIRECT] = {
        [ANON] = {"404", "404", "404", "404", "404", "401", "404", "401", "401", "401", "401", "401", "401", "401", "401", "401", "401", "401", "404", "401", "no"},
        [OUTSIDER] = {"404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "404", "no"},
        [MEMBER] = {"200", "200", "200", "200", "200", "201", "200", "200", "403", "403", "403", "403", "403", "403", "200", "200", "200", "204", "200", "200", "yes"},
        [MODERATOR] = {"-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-"},
        [OWNER] = {"-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-"},
        [BANNED] = {"-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-"},
        [ADMIN] = {"200", "200", "200", "200", "200", "201", "200", "404", "403", "403", "403", "403", "200", "403", "200", "200", "200", "204", "200", "404", "no"},
    },
};

/* The people: one per subject (none for ANON), and the users acted on. */
struct person {
    chat_client *c;
    chat_user u;
};
static struct person people[NSUBJECTS];
static struct person guest, victim, stranger;
static char rooms[NKINDS][64];
static char removable[NKINDS][48]; /* a message of each room a row may remove */

static const struct person *as(int subject) { return subject == ANON ? NULL : &people[subject]; }

static long call(const struct person *p, const char *method, const char *path, const char *body,
                 struct http_result *out) {
    char auth[160];
    const char *h[3] = {"Content-Type: application/json", NULL, NULL};
    if (p) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", chat_client_token(p->c));
        h[1] = auth;
    }
    struct http_result r;
    if (test_http(method, path, h, body, body ? strlen(body) : 0, &r) < 0) return -1;
    long status = r.status;
    if (out) *out = r;
    else test_http_result_free(&r);
    return status;
}

/* call, asserting the status; the reply in out when not NULL. */
static void must(const struct person *p, const char *method, const char *path, const char *body,
                 long want, struct http_result *out) {
    struct http_result r;
    long got = call(p, method, path, body, &r);
    if (got != want) fail_msg("%s %s %s: wanted %ld, got %ld %s", method, path, body ? body : "",
                              want, got, r.body);
    if (out) *out = r;
    else test_http_result_free(&r);
}

static size_t stop_at_body(char *ptr, size_t size, size_t n, void *arg) {
    (void)ptr, (void)size, (void)n, (void)arg;
    return 0; /* the status is known: the stream is not read */
}

/* The status of an event stream: the request is dropped at its first byte. */
static long stream_status(const struct person *p, const char *path) {
    char url[512], auth[160];
    snprintf(url, sizeof(url), "%s%s", test_url(), path);
    CURL *curl = curl_easy_init();
    struct curl_slist *h = NULL;
    if (p) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", chat_client_token(p->c));
        h = curl_slist_append(h, auth);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, stop_at_body);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(curl);
    return status;
}

static void person_new(struct person *p, const char *tag) {
    p->c = test_new_user(tag, &p->u);
    assert_non_null(p->c);
}

/* /room/<the room of kind>/member into out (128 bytes: a name is at most 64). */
static void member_path(char out[128], int kind) {
    snprintf(out, 128, "/room/%.64s/member", rooms[kind]);
}

/* The site administrator adds who to the room of kind, with role. */
static void admin_adds(int kind, const struct person *who, const char *role) {
    char path[128], body[256];
    if (kind == KIND_DIRECT) { /* the other member starts it again */
        snprintf(body, sizeof(body), "{\"userId\":\"%s\"}", who->u.id);
        must(&victim, "POST", "/dm/", body, 200, NULL);
        return;
    }
    member_path(path, kind);
    snprintf(body, sizeof(body), "{\"userId\":\"%s\"}", who->u.id);
    must(&people[ADMIN], "POST", path, body, 200, NULL);
    if (strcmp(role, "member") == 0) return;
    snprintf(body, sizeof(body), "{\"userId\":\"%s\",\"role\":\"%s\"}", who->u.id, role);
    must(&people[ADMIN], "PUT", path, body, 200, NULL);
}

/* The site administrator takes who out of the room (or lifts its ban). */
static void admin_removes(int kind, const struct person *who) {
    char path[200];
    snprintf(path, sizeof(path), "/room/%s/member?userId=%s", rooms[kind], who->u.id);
    must(&people[ADMIN], "DELETE", path, NULL, 200, NULL);
}

/* A new message for the next row to remove. */
static void post_removable(int kind) {
    char path[128];
    struct http_result r;
    snprintf(path, sizeof(path), "/room/%s/message/", rooms[kind]);
    const struct person *poster = kind == KIND_DIRECT ? &victim : &people[OWNER];
    long status = call(poster, "POST", path, "{\"text\":\"remove me\"}", &r);
    for (int tries = 0; status == 429 && tries < 5; tries++) { /* the per-user send limit */
        test_http_result_free(&r);
        sleep(1); /* the window it names in Retry-After (1 s) */
        status = call(poster, "POST", path, "{\"text\":\"remove me\"}", &r);
    }
    assert_int_equal(status, 201);
    test_json_member(r.body, "id", removable[kind], sizeof(removable[kind]));
    test_http_result_free(&r);
}

static int setup(void **state) {
    (void)state;
    static const char *const tags[NSUBJECTS] = {"", "outsider", "member", "moderator", "owner",
                                                "banned", "admin"};
    for (int s = OUTSIDER; s < NSUBJECTS; s++)
        if (s != ADMIN) person_new(&people[s], tags[s]);
    const char *admin_email = getenv("CHAT_ADMIN_EMAIL");
    if (!admin_email) return 0;
    people[ADMIN].c = chat_client_new(test_url());
    if (chat_register(people[ADMIN].c, admin_email, "correct horse battery", "admin",
                      &people[ADMIN].u) != CHAT_OK &&
        chat_login(people[ADMIN].c, admin_email, "correct horse battery", &people[ADMIN].u) !=
            CHAT_OK)
        return -1;
    person_new(&guest, "guest");
    person_new(&victim, "victim");
    person_new(&stranger, "stranger");
    return 0;
}

/* The three rooms: the owner's public and private room with a moderator,
 * a member, a banned user and the victim; the member's conversation with
 * the victim. */
static void make_rooms(void) {
    const char *kinds[] = {"public", "private"};
    for (int k = KIND_PUBLIC; k <= KIND_PRIVATE; k++) {
        char body[256], path[128];
        snprintf(rooms[k], sizeof(rooms[k]), "matrix-%s-%d", kinds[k], (int)getpid());
        snprintf(body, sizeof(body), "{\"name\":\"%.64s\",\"kind\":\"%s\"}", rooms[k],
                 kinds[k]);
        must(&people[OWNER], "POST", "/room/", body, 201, NULL);
        admin_adds(k, &people[MEMBER], "member");
        admin_adds(k, &people[MODERATOR], "moderator");
        admin_adds(k, &victim, "member");
        member_path(path, k);
        snprintf(body, sizeof(body), "{\"userId\":\"%s\",\"role\":\"banned\"}",
                 people[BANNED].u.id);
        must(&people[OWNER], "PUT", path, body, 200, NULL);
    }
    char body[200];
    struct http_result r;
    snprintf(body, sizeof(body), "{\"userId\":\"%s\"}", victim.u.id);
    must(&people[MEMBER], "POST", "/dm/", body, 201, &r);
    test_json_member(r.body, "name", rooms[KIND_DIRECT], sizeof(rooms[KIND_DIRECT]));
    test_http_result_free(&r);
    for (int k = 0; k < NKINDS; k++) post_removable(k);
}

/* Whether the room of kind is in subject's GET /room/. */
static const char *listed(int subject, int kind) {
    struct http_result r;
    must(as(subject), "GET", "/room/?limit=1000", NULL, 200, &r);
    char needle[96];
    snprintf(needle, sizeof(needle), "\"name\":\"%s\"", rooms[kind]);
    const char *answer = strstr(r.body, needle) ? "yes" : "no";
    test_http_result_free(&r);
    return answer;
}

/* Runs route for subject on the room of kind; the answer as the table has it. */
static const char *run(int subject, int kind, int route, char out[16]) {
    const struct person *p = as(subject);
    const char *room = rooms[kind];
    char path[256], body[256];
    long status = -1;
    switch (route) {
    case R_HISTORY: snprintf(path, sizeof(path), "/room/%s/message/", room); break;
    case R_BEFORE:
        snprintf(path, sizeof(path), "/room/%s/message/?before=99999999999999-0", room);
        break;
    case R_WAIT: snprintf(path, sizeof(path), "/room/%s/message/?after=0-0&wait=5", room); break;
    case R_STREAM:
        snprintf(path, sizeof(path), "/room/%s/message/stream", room);
        status = stream_status(p, path);
        break;
    case R_MULTI:
        snprintf(path, sizeof(path), "/stream?rooms=lobby,%s", room);
        status = stream_status(p, path);
        break;
    case R_SEND:
        snprintf(path, sizeof(path), "/room/%s/message/", room);
        status = call(p, "POST", path, "{\"text\":\"matrix\"}", NULL);
        break;
    case R_MEMBERS: member_path(path, kind); break;
    case R_JOIN:
        member_path(path, kind);
        status = call(p, "POST", path, "{}", NULL);
        if (status == 200 && subject == OUTSIDER) admin_removes(kind, p);
        break;
    case R_INVITE:
        member_path(path, kind);
        snprintf(body, sizeof(body), "{\"email\":\"%s\"}", guest.u.email);
        status = call(p, "POST", path, body, NULL);
        if (status == 200) admin_removes(kind, &guest);
        break;
    case R_ROLE:
        member_path(path, kind);
        snprintf(body, sizeof(body), "{\"userId\":\"%s\",\"role\":\"member\"}", victim.u.id);
        status = call(p, "PUT", path, body, NULL);
        break;
    case R_BAN:
        member_path(path, kind);
        snprintf(body, sizeof(body), "{\"userId\":\"%s\",\"role\":\"banned\"}", stranger.u.id);
        status = call(p, "PUT", path, body, NULL);
        if (status == 200) admin_removes(kind, &stranger); /* lifts the ban */
        break;
    case R_REMOVE:
        snprintf(path, sizeof(path), "/room/%s/member?userId=%s", room, victim.u.id);
        status = call(p, "DELETE", path, NULL, NULL);
        if (status == 200) admin_adds(kind, &victim, "member");
        break;
    case R_REMOVE_MESSAGE:
        snprintf(path, sizeof(path), "/room/%s/message/?id=%s", room, removable[kind]);
        status = call(p, "DELETE", path, NULL, NULL);
        if (status == 200) post_removable(kind);
        break;
    case R_EDIT: /* the owner's message (the victim's in a direct room): only its author edits */
        snprintf(path, sizeof(path), "/room/%s/message/?id=%s", room, removable[kind]);
        status = call(p, "PATCH", path, "{\"text\":\"matrix edit\"}", NULL);
        break;
    case R_REACT:
    case R_UNREACT: /* on the edited message: DELETE takes back what PUT added */
        snprintf(path, sizeof(path), "/room/%s/message/reaction?id=%s", room, removable[kind]);
        status =
            call(p, route == R_REACT ? "PUT" : "DELETE", path, "{\"emoji\":\"" THUMBS "\"}", NULL);
        break;
    case R_READ: /* the caller's own marker, forward only: no other cell depends on it */
        snprintf(path, sizeof(path), "/room/%s/read", room);
        snprintf(body, sizeof(body), "{\"id\":\"%s\"}", removable[kind]);
        status = call(p, "PUT", path, body, NULL);
        break;
    case R_TYPING: /* a signal: nothing is stored */
        snprintf(path, sizeof(path), "/room/%s/typing", room);
        status = call(p, "POST", path, "{}", NULL);
        break;
    case R_PRESENCE: snprintf(path, sizeof(path), "/room/%s/presence", room); break;
    case R_LEAVE:
        member_path(path, kind);
        status = call(p, "DELETE", path, NULL, NULL);
        if (status == 200 && (subject == MEMBER || subject == MODERATOR))
            admin_adds(kind, p, subject == MEMBER ? "member" : "moderator");
        break;
    default: return listed(subject, kind);
    }
    if (status == -1) status = call(p, "GET", path, NULL, NULL);
    snprintf(out, 16, "%ld", status);
    return out;
}

static void every_route_kind_and_caller(void **state) {
    (void)state;
    if (!people[ADMIN].c) skip(); /* needs CHAT_ADMIN_EMAIL, a chatd with --admins */
    make_rooms();
    int wrong = 0;
    for (int k = 0; k < NKINDS; k++)
        for (int s = 0; s < NSUBJECTS; s++)
            for (int route = 0; route < NROUTES; route++) {
                const char *want = expected[k][s][route];
                if (strcmp(want, "-") == 0) continue;
                char buf[16];
                const char *got = run(s, k, route, buf);
                if (strcmp(got, want) != 0) {
                    printf("# %s room, %s, %s: wanted %s, got %s\n", kind_names[k],
                           subject_names[s], route_names[route], want, got);
                    wrong++;
                }
            }
    assert_int_equal(wrong, 0);
}

/* The table as docs/API.md has it: a row per caller, a column per route,
 * each cell "public/private/direct". */
static void table_markdown(char *out, size_t size) {
    size_t n = 0;
    n += (size_t)snprintf(out + n, size - n, "| caller |");
    for (int route = 0; route < NROUTES; route++)
        n += (size_t)snprintf(out + n, size - n, " %s |", route_names[route]);
    n += (size_t)snprintf(out + n, size - n, "\n|---|");
    for (int route = 0; route < NROUTES; route++) n += (size_t)snprintf(out + n, size - n, "---|");
    n += (size_t)snprintf(out + n, size - n, "\n");
    for (int s = 0; s < NSUBJECTS; s++) {
        n += (size_t)snprintf(out + n, size - n, "| %s |", subject_names[s]);
        for (int route = 0; route < NROUTES; route++)
            n += (size_t)snprintf(out + n, size - n, " %s/%s/%s |", expected[0][s][route],
                                  expected[1][s][route], expected[2][s][route]);
        n += (size_t)snprintf(out + n, size - n, "\n");
    }
}

static void the_documentation_has_the_same_table(void **state) {
    (void)state;
    const char *doc = getenv("CHAT_API_DOC");
    if (!doc) skip();
    FILE *f = fopen(doc, "r");
    assert_non_null(f);
    static char text[1 << 20];
    size_t len = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[len] = '\0';
    const char *begin = strstr(text, "<!-- matrix:begin -->\n");
    const char *end = begin ? strstr(begin, "<!-- matrix:end -->") : NULL;
    assert_non_null(end);
    begin += strlen("<!-- matrix:begin -->\n");
    static char want[16384];
    table_markdown(want, sizeof(want));
    if (strlen(want) != (size_t)(end - begin) || strncmp(begin, want, strlen(want)) != 0) {
        printf("# docs/API.md should have, between the matrix markers:\n");
        for (char *line = strtok(want, "\n"); line; line = strtok(NULL, "\n"))
            printf("# %s\n", line);
        fail_msg("the documented matrix differs from the tested one");
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_route_kind_and_caller),
        cmocka_unit_test(the_documentation_has_the_same_table),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
