/*
 * chatctl: the operator's and the application's command-line tool over the
 * server API (/api/v1/..., docs/API.md "The server API"), with libcurl. The
 * API key comes from $CHAT_API_KEY, never from the arguments (they show in
 * ps); the key commands work on Redis directly (chatctl_keys.c). Every
 * call is safe to repeat, so a call the server did not answer (no
 * connection, 503) is tried again, up to three times; a publish keeps its
 * client message id across them. Run "chatctl help" for the commands.
 */
#include "chatctl.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define CTL_DEFAULT_SERVER "http://localhost:8182"
#define CTL_DEFAULT_REDIS "127.0.0.1:6379"
#define CTL_ATTEMPTS 3
#define CTL_RETRY_PAUSE_US 500000
#define CTL_PATH_MAX 512

static void usage(FILE *f) {
    fputs("usage: chatctl [--server URL] [--redis HOST:PORT] <command> [args]\n"
          "\n"
          "NAME\n"
          "  chatctl - manage a clusterchat service through its server API\n"
          "\n"
          "COMMANDS\n"
          "  key create [--name NAME]      make an API key; its secret is printed once\n"
          "  key list                      list the keys (id, creation time, name)\n"
          "  key revoke ID                 revoke a key: refused by every chatd at once\n"
          "  rooms [--after R] [--limit N] list the public rooms\n"
          "  room create NAME --owner USER_ID [--private]\n"
          "                                create a room owned by a user\n"
          "  members ROOM                  list a room's members (banned ones too)\n"
          "  counts ROOM                   a room's entries, members, bans and users online\n"
          "  who ROOM [--after ID] [--limit N]\n"
          "                                who is online in a room: the count and a page\n"
          "  history ROOM [--after ID] [--limit N]\n"
          "                                a page of a room's messages, oldest first\n"
          "  publish ROOM TEXT... [--as USER_ID] [--name NAME] [--id CLIENT_MSG_ID]\n"
          "                                post a message as the system, or as a user;\n"
          "                                --id makes a repeat of the command a no-op\n"
          "  remove ROOM MESSAGE_ID        remove a message (a tombstone stays)\n"
          "  add ROOM USER_ID              make a user a member\n"
          "  role ROOM USER_ID ROLE        make a member owner, moderator or member\n"
          "  ban ROOM USER_ID              ban a user from a room\n"
          "  unban ROOM USER_ID            lift a ban (also: remove a member)\n"
          "  sessions USER_ID              list a user's sessions\n"
          "  disconnect USER_ID            end every session of a user on every chatd\n"
          "  help                          show this help\n"
          "\n"
          "ENVIRONMENT\n"
          "  CHAT_API_KEY     the API key of every command but key (required)\n"
          "  CHAT_SERVER      the server, unless --server (default " CTL_DEFAULT_SERVER ")\n"
          "  CHATD_REDIS      Redis for the key commands, unless --redis\n"
          "                   (default " CTL_DEFAULT_REDIS "; any node of a cluster)\n"
          "  CHATD_REDIS_USER, CHATD_REDIS_PASSWORD   Redis AUTH, as for chatd\n"
          "\n"
          "OUTPUT\n"
          "  The server's JSON answer on standard output; errors on standard error.\n"
          "\n"
          "EXIT STATUS\n"
          "  0 ok, 1 refused by the server, 2 usage error, 3 server unreachable or failing.\n",
          f);
}

/* Everything one run works with. */
struct ctl {
    const char *server;     /* base URL, no trailing slash needed */
    const char *key;        /* $CHAT_API_KEY */
    CURL *curl;
    char *opt_after, *opt_limit, *opt_as, *opt_name, *opt_id, *opt_owner;
    bool opt_private;
    int argc;               /* positional arguments of the command (after its name) */
    char **argv;
};

/* ---- HTTP ---- */

static size_t collect(char *data, size_t size, size_t n, void *arg) {
    FILE *out = arg;
    return fwrite(data, size, n, out);
}

/* Prints an answer: the JSON body (indented) for 2xx, else the error. */
static int report(long status, const char *body, size_t len) {
    json_error_t err;
    json_t *j = len ? json_loadb(body, len, 0, &err) : NULL;
    int rc = status >= 200 && status < 300 ? CTL_OK
             : status >= 400 && status < 500 ? CTL_REFUSED
                                             : CTL_UNAVAILABLE;
    if (rc == CTL_OK && j) json_dumpf(j, stdout, JSON_INDENT(2)), putchar('\n');
    else if (rc != CTL_OK) {
        json_t *e = json_object_get(j, "error");
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *message = json_string_value(json_object_get(e, "message"));
        fprintf(stderr, "chatctl: %ld %s: %s\n", status,
                code ? code : "error",
                message ? message : "no answer");
    }
    json_decref(j);
    return rc;
}

/* One attempt; the status (0: no answer) and the body in *body. */
static long attempt(struct ctl *c, const char *method, const char *url, const char *json,
                    char **body, size_t *len) {
    FILE *out = open_memstream(body, len);
    if (!out) return 0;
    struct curl_slist *h = NULL;
    char auth[256];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->key);
    h = curl_slist_append(h, auth);
    if (json) h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_reset(c->curl);
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 30L);
    if (json) curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, json);
    long status = 0;
    if (curl_easy_perform(c->curl) == CURLE_OK)
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    fclose(out);
    return status;
}

/* method path (already escaped) with an optional JSON body, retried while
 * unanswered or 503; prints the answer and returns the exit code. */
static int call(struct ctl *c, const char *method, const char *path, json_t *body) {
    char url[CTL_PATH_MAX * 2];
    snprintf(url, sizeof(url), "%s%s", c->server, path);
    char *json = body ? json_dumps(body, JSON_COMPACT) : NULL;
    char *answer = NULL;
    size_t len = 0;
    long status = 0;
    for (int i = 0; i < CTL_ATTEMPTS; i++) {
        if (i) usleep(CTL_RETRY_PAUSE_US);
        free(answer);
        answer = NULL;
        status = attempt(c, method, url, json, &answer, &len);
        if (status != 0 && status != 503) break;
    }
    int rc = status ? report(status, answer, len) : CTL_UNAVAILABLE;
    if (!status) fprintf(stderr, "chatctl: no answer from %s\n", c->server);
    free(answer);
    free(json);
    json_decref(body);
    return rc;
}

/* Escapes one path segment or query value into out. */
static const char *esc(struct ctl *c, const char *s, char *out, size_t size) {
    char *e = curl_easy_escape(c->curl, s, 0);
    snprintf(out, size, "%s", e ? e : "");
    curl_free(e);
    return out;
}

/* ---- the commands ---- */

/* Splits the command's arguments into options and positional ones. */
static int parse_options(struct ctl *c, int argc, char **argv) {
    struct {
        const char *name;
        char **value;
    } opts[] = {{"--after", &c->opt_after}, {"--limit", &c->opt_limit}, {"--as", &c->opt_as},
                {"--name", &c->opt_name},   {"--id", &c->opt_id},       {"--owner", &c->opt_owner}};
    c->argv = argv;
    c->argc = 0;
    for (int i = 0; i < argc; i++) {
        bool matched = false;
        for (size_t o = 0; o < sizeof(opts) / sizeof(opts[0]) && !matched; o++) {
            if (strcmp(argv[i], opts[o].name) != 0) continue;
            if (i + 1 >= argc) return -1;
            *opts[o].value = argv[++i];
            matched = true;
        }
        if (!matched && strcmp(argv[i], "--private") == 0) c->opt_private = matched = true;
        if (!matched) c->argv[c->argc++] = argv[i];
    }
    return 0;
}

/* "?after=..&limit=.." for the options given, into out. */
static const char *page_query(struct ctl *c, char *out, size_t size) {
    char a[256] = "", l[64] = "";
    if (c->opt_after) esc(c, c->opt_after, a, sizeof(a));
    if (c->opt_limit) esc(c, c->opt_limit, l, sizeof(l));
    snprintf(out, size, "?%s%s%s%s%s", c->opt_after ? "after=" : "", a,
             c->opt_after && c->opt_limit ? "&" : "", c->opt_limit ? "limit=" : "", l);
    return out;
}

/* The text of a publish: the words joined by spaces. */
static char *joined(char **words, int n) {
    size_t len = 1;
    for (int i = 0; i < n; i++) len += strlen(words[i]) + 1;
    char *text = calloc(1, len);
    size_t at = 0;
    for (int i = 0; text && i < n; i++) {
        size_t w = strlen(words[i]);
        if (i) text[at++] = ' ';
        memcpy(text + at, words[i], w);
        at += w;
    }
    return text;
}

static int publish(struct ctl *c, const char *room_path) {
    char id[40], path[CTL_PATH_MAX];
    if (!c->opt_id) { /* one id for every attempt of this run */
        unsigned char b[12];
        if (getrandom(b, sizeof(b), 0) != sizeof(b)) return CTL_REFUSED;
        snprintf(id, sizeof(id), "ctl-");
        for (size_t i = 0; i < sizeof(b); i++) snprintf(id + 4 + 2 * i, 3, "%02x", b[i]);
    }
    char *text = joined(c->argv + 1, c->argc - 1);
    json_t *body = json_pack("{s:s,s:s}", "text", text ? text : "", "clientMsgId",
                             c->opt_id ? c->opt_id : id);
    free(text);
    if (c->opt_as) json_object_set_new(body, "userId", json_string(c->opt_as));
    if (c->opt_name) json_object_set_new(body, "name", json_string(c->opt_name));
    if (snprintf(path, sizeof(path), "%s/message", room_path) >= (int)sizeof(path)) {
        json_decref(body);
        fprintf(stderr, "chatctl: the room name is too long\n");
        return CTL_USAGE;
    }
    return call(c, "POST", path, body);
}

static int member_change(struct ctl *c, const char *method, const char *room_path,
                         const char *role) {
    char path[CTL_PATH_MAX];
    if (strcmp(method, "DELETE") == 0) {
        char user[128];
        snprintf(path, sizeof(path), "%s/member?userId=%s", room_path,
                 esc(c, c->argv[1], user, sizeof(user)));
        return call(c, method, path, NULL);
    }
    snprintf(path, sizeof(path), "%s/member", room_path);
    json_t *body = json_pack("{s:s}", "userId", c->argv[1]);
    if (role) json_object_set_new(body, "role", json_string(role));
    return call(c, method, path, body);
}

/* path (of size bytes) with tail appended (cut to fit). */
static char *path_plus(char *path, size_t size, const char *tail) {
    size_t len = strlen(path);
    snprintf(path + len, size - len, "%s", tail);
    return path;
}

/* The commands on one room: ROOM is argv[0]. */
static int room_command(struct ctl *c, const char *cmd) {
    char room[256], path[CTL_PATH_MAX], q[512];
    snprintf(path, sizeof(path), "/api/v1/room/%s", esc(c, c->argv[0], room, sizeof(room)));
    int n = c->argc;
    if (strcmp(cmd, "members") == 0 && n == 1) return call(c, "GET", path_plus(path, sizeof(path), "/member"), NULL);
    if (strcmp(cmd, "counts") == 0 && n == 1) return call(c, "GET", path_plus(path, sizeof(path), "/counts"), NULL);
    bool who = strcmp(cmd, "who") == 0;
    if ((who || strcmp(cmd, "history") == 0) && n == 1) {
        path_plus(path, sizeof(path), who ? "/presence" : "/message");
        return call(c, "GET", path_plus(path, sizeof(path), page_query(c, q, sizeof(q))), NULL);
    }
    if (strcmp(cmd, "publish") == 0 && n >= 2) return publish(c, path);
    if (strcmp(cmd, "remove") == 0 && n == 2) {
        char id[128];
        snprintf(q, sizeof(q), "/message?id=%s", esc(c, c->argv[1], id, sizeof(id)));
        return call(c, "DELETE", path_plus(path, sizeof(path), q), NULL);
    }
    if (strcmp(cmd, "add") == 0 && n == 2) return member_change(c, "POST", path, NULL);
    if (strcmp(cmd, "role") == 0 && n == 3) return member_change(c, "PUT", path, c->argv[2]);
    if (strcmp(cmd, "ban") == 0 && n == 2) return member_change(c, "PUT", path, "banned");
    if (strcmp(cmd, "unban") == 0 && n == 2) return member_change(c, "DELETE", path, NULL);
    usage(stderr);
    return CTL_USAGE;
}

static int command(struct ctl *c, const char *cmd) {
    char path[CTL_PATH_MAX];
    if (strcmp(cmd, "rooms") == 0 && c->argc == 0) {
        char q[512];
        snprintf(path, sizeof(path), "/api/v1/room%s", page_query(c, q, sizeof(q)));
        return call(c, "GET", path, NULL);
    }
    if (strcmp(cmd, "room") == 0 && c->argc == 2 && strcmp(c->argv[0], "create") == 0 &&
        c->opt_owner)
        return call(c, "POST", "/api/v1/room",
                    json_pack("{s:s,s:s,s:s}", "name", c->argv[1], "kind",
                              c->opt_private ? "private" : "public", "ownerId", c->opt_owner));
    if ((strcmp(cmd, "sessions") == 0 || strcmp(cmd, "disconnect") == 0) && c->argc == 1) {
        char user[128];
        snprintf(path, sizeof(path), "/api/v1/user/%s/session",
                 esc(c, c->argv[0], user, sizeof(user)));
        int rc = call(c, cmd[0] == 's' ? "GET" : "DELETE", path, NULL);
        if (rc == CTL_OK && cmd[0] == 'd') printf("disconnected %s\n", c->argv[0]);
        return rc;
    }
    if (c->argc >= 1) return room_command(c, cmd);
    usage(stderr);
    return CTL_USAGE;
}

int main(int argc, char **argv) {
    struct ctl c = {.server = getenv("CHAT_SERVER"), .key = getenv("CHAT_API_KEY")};
    const char *redis = getenv("CHATD_REDIS");
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--server") == 0) c.server = argv[i + 1];
        else if (strcmp(argv[i], "--redis") == 0) redis = argv[i + 1];
        else break;
    }
    if (i >= argc || strcmp(argv[i], "help") == 0 || strcmp(argv[i], "--help") == 0 ||
        strcmp(argv[i], "-h") == 0) {
        usage(i >= argc ? stderr : stdout);
        return i >= argc ? CTL_USAGE : CTL_OK;
    }
    if (strcmp(argv[i], "key") == 0)
        return chatctl_keys(argc - i, argv + i, redis && *redis ? redis : CTL_DEFAULT_REDIS);
    if (!c.key || !*c.key) {
        fprintf(stderr, "chatctl: set $CHAT_API_KEY to an API key (chatctl key create)\n");
        return CTL_USAGE;
    }
    if (!c.server || !*c.server) c.server = CTL_DEFAULT_SERVER;
    const char *cmd = argv[i];
    if (parse_options(&c, argc - i - 1, argv + i + 1) < 0) {
        usage(stderr);
        return CTL_USAGE;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    c.curl = curl_easy_init();
    int rc = c.curl ? command(&c, cmd) : CTL_REFUSED;
    curl_easy_cleanup(c.curl);
    curl_global_cleanup();
    return rc;
}
