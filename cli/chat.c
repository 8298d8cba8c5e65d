/*
 * chat: the clusterchat command-line client, built on libchatclient only.
 *
 * It parses the global options and one command, keeps the session (server
 * URL and token) in a private file between runs, reads passwords without
 * echo, and maps library errors to exit codes: 0 ok, 1 refused by the server
 * (4xx) or a local failure, 2 usage error, 3 server unreachable or failing
 * (no response, 5xx, garbled answer). Run "chat help" for the commands.
 */
#include "chatclient.h"

#include <jansson.h>

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define CHAT_DEFAULT_SERVER "http://localhost:8182"
#define CHAT_HISTORY_TIMEOUT_MS 120000L
#define CHAT_OLD_SESSION_TIMEOUT_MS 3000L
#define CLI_HELP (-1) /* an option parser's answer to -h / --help */

#if defined(__GNUC__) || defined(__clang__)
#define CHAT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CHAT_PRINTF(f, a)
#endif

/* Exit codes. */
enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNAVAILABLE = 3 };

/* What the session file holds. */
typedef struct session {
    char *server; /* normalised server URL, NULL when there is no session */
    char *token;  /* session token, NULL when there is no session */
} session;

/* Everything one run of chat works with. */
typedef struct cli {
    const char *server_opt;  /* --server, else $CHAT_SERVER, else NULL */
    const char *session_opt; /* --session, else NULL */
    const char *cacert_opt;  /* --cacert, else $CHAT_CACERT, else NULL */
    int no_retry;            /* --no-retry: one attempt per request */
    char *server;            /* normalised URL of the server in use */
    char *session_path;      /* the session file */
    session saved;           /* the session file's contents */
    chat_client *client;     /* talks to server, with saved's token if it fits */
    int argc;                /* number of command arguments (after the name) */
    char **argv;             /* the command arguments */
} cli;

/* One option: "--name VALUE" when value is set, "--name" when flag is set. */
typedef struct cli_opt {
    const char *name;   /* e.g. "--limit"; NULL ends a table */
    const char **value; /* receives the value */
    int *flag;          /* set to 1 when present */
} cli_opt;

/* tcsetattr() state for restoring the echo when a signal hits the prompt. */
static struct termios tty_saved;
static volatile sig_atomic_t tty_saved_valid;

/* ---- messages and exit codes ---- */

/* Prints "chat: <words>" to stderr and returns code. */
CHAT_PRINTF(2, 3)
static int fail(int code, const char *fmt, ...) {
    va_list ap;
    fputs("chat: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

static void usage(FILE *f) {
    fputs("usage: chat [--server URL] [--session FILE] [--cacert FILE] [--no-retry]\n"
          "            <command> [args]\n"
          "\n"
          "commands:\n"
          "  register EMAIL [--name NAME]   create an account and log in\n"
          "  login EMAIL                    log in (a new session)\n"
          "  login --token                  log in with a token from your application\n"
          "                                 ($CHAT_TOKEN, else one line of standard input)\n"
          "  send [--room R] [--reply-to ID] TEXT...\n"
          "                                 send a message (words are joined by spaces),\n"
          "                                 to the lobby or room R, answering message ID\n"
          "  history [--after ID] [--limit N] [--json]\n"
          "                                 show messages, oldest first\n"
          "  tail [--room R] [--after ID] [--count N] [--ws] [--signals]\n"
          "                                 follow the room live: print each new message\n"
          "                                 and room event (edits, removals, reactions,\n"
          "                                 members) in words\n"
          "                                 (first those after ID), stop after N of them\n"
          "                                 or run until killed; --ws: over a WebSocket\n"
          "                                 (needs a session) instead of an event stream;\n"
          "                                 --signals: also who types and who comes and\n"
          "                                 goes, as lines starting with \"* \"\n"
          "  who ROOM                       list who is online in a room\n"
          "  room create NAME [--private]   create a room (public unless --private)\n"
          "  room leave NAME                leave a room\n"
          "  room join NAME                 join a public room (to have it in one's list)\n"
          "  invite ROOM USER               add a user to a room (moderators, owners)\n"
          "  dm USER                        open the direct conversation with a user\n"
          "                                 and print its room name\n"
          "  members ROOM                   list a room's members: role, user id, name\n"
          "  role ROOM USER ROLE            give a member the role owner, moderator or\n"
          "                                 member (owners)\n"
          "  ban ROOM USER                  ban a user from a room (moderators, owners)\n"
          "  unban ROOM USER-ID             lift a user's ban (moderators, owners)\n"
          "  remove-member ROOM USER-ID     remove a member (moderators, owners)\n"
          "  lock USER-ID, unlock USER-ID   lock an account, ending its sessions and\n"
          "                                 streams, or lift the lock (site administrators)\n"
          "  remove-message ROOM ID         remove a message (moderators, owners;\n"
          "                                 anyone their own)\n"
          "  edit ROOM ID TEXT...           replace the text of one's own message\n"
          "  react ROOM ID EMOJI [--remove] react to a message with one emoji (or take\n"
          "                                 the reaction back)\n"
          "  read ROOM ID                   mark ROOM read up to message ID\n"
          "  rooms                          list the rooms, with unread counts when\n"
          "                                 logged in (99+ for 100 or more)\n"
          "  logout                         end the session\n"
          "  help                           show this help\n"
          "\n"
          "USER is an e-mail address or a user id (as chat members prints it).\n"
          "The password is taken from $CHAT_PASSWORD if set, else asked for on the\n"
          "terminal without echo, else read as one line from standard input.\n"
          "Server: --server, else $CHAT_SERVER, else the saved session's, else\n"
          "  " CHAT_DEFAULT_SERVER ".\n"
          "An https:// server's certificate is checked against the system's CAs,\n"
          "  or those in the PEM file --cacert, else $CHAT_CACERT, names (make run's\n"
          "  self-signed one: .state/tls/localhost.crt).\n"
          "Session file: --session, else $CHAT_SESSION_FILE, else\n"
          "  $XDG_CONFIG_HOME/clusterchat/session (~/.config/clusterchat/session).\n"
          "While the server is unreachable or answers 503, send, login and history\n"
          "  try again for up to 30 s; --no-retry makes them give up at once.\n"
          "tail reconnects by itself when the stream breaks, without losing or\n"
          "  repeating a message; it gives up after 30 s without a working stream\n"
          "  (at once with --no-retry) and tells the --after ID to resume from.\n"
          "Exit status: 0 ok, 1 refused by the server, 2 usage error,\n"
          "  3 server unreachable or failing.\n",
          f);
}

/* The exit code for a failed library call. */
static int exit_code(const chat_client *client, int err) {
    int status = chat_client_status(client);
    if (err == CHAT_OK) return EXIT_OK;
    if (err == CHAT_ERR_USAGE) return EXIT_USAGE;
    if ((status >= 400 && status < 500) || err == CHAT_ERR_NOMEM) return EXIT_REFUSED;
    return EXIT_UNAVAILABLE;
}

/* Reports a failed library call and returns its exit code. */
static int report(const cli *c, int err, const char *action) {
    const char *why = chat_client_error(c->client);
    if (err == CHAT_ERR_NETWORK)
        fail(0, "cannot reach %s: %s", c->server, why);
    else
        fail(0, "%s failed: %s", action, why);
    if (err == CHAT_ERR_NETWORK && strstr(why, "certificate is not trusted"))
        fail(0, "hint: give the CA that signed it with --cacert FILE or CHAT_CACERT");
    if (err == CHAT_ERR_AUTH && c->saved.token && strcmp(action, "token login") != 0)
        fail(0, "hint: the session may have ended; log in again with 'chat login EMAIL'");
    return exit_code(c->client, err);
}

/* ---- small helpers ---- */

static char *str_dup(const char *s) {
    size_t len = strlen(s) + 1;
    char *copy = malloc(len);
    if (copy) memcpy(copy, s, len);
    return copy;
}

/* Overwrites a secret before freeing it; NULL is fine. */
static void secret_free(char *s) {
    if (!s) return;
    for (volatile char *p = s; *p; p++)
        *p = 0;
    free(s);
}

/* a + b as a new string, or NULL on OOM. */
static char *str_concat(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);
    if (s) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb + 1);
    }
    return s;
}

/* The value of an environment variable, or NULL when unset or empty. */
static const char *env_get(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* One line from f without its line ending; NULL at EOF or on error. */
static char *line_read(FILE *f) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}

/* The words of argv joined by single spaces, as a new string. */
static char *words_join(int argc, char **argv) {
    size_t len = 1;
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *s = malloc(len), *p = s;
    if (!s) return NULL;
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]);
        if (i > 0) *p++ = ' ';
        memcpy(p, argv[i], n);
        p += n;
    }
    *p = '\0';
    return s;
}

/* ---- option parsing ---- */

/* Finds arg ("--name" or "--name=value") in the tables; *inline_value gets
 * the part after '=' if any. */
static const cli_opt *option_find(const cli_opt *const tables[], const char *arg,
                                  const char **inline_value) {
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    *inline_value = eq ? eq + 1 : NULL;
    for (size_t t = 0; tables[t]; t++) {
        for (const cli_opt *o = tables[t]; o->name; o++) {
            if (strlen(o->name) == len && strncmp(o->name, arg, len) == 0) return o;
        }
    }
    return NULL;
}

/* Takes the option at argv[*i] (and its value); 0, CLI_HELP or EXIT_USAGE. */
static int option_take(const cli_opt *const tables[], int argc, char **argv, int *i) {
    const char *arg = argv[*i], *value;
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) return CLI_HELP;
    const cli_opt *o = option_find(tables, arg, &value);
    if (!o)
        return fail(EXIT_USAGE,
                    "unknown option '%s' (see 'chat help'; put -- before text "
                    "that starts with '-')",
                    arg);
    if (o->flag) {
        if (value) return fail(EXIT_USAGE, "option %s takes no value", o->name);
        *o->flag = 1;
        return 0;
    }
    if (!value && *i + 1 >= argc) return fail(EXIT_USAGE, "option %s needs a value", o->name);
    *o->value = value ? value : argv[++*i];
    return 0;
}

/* Parses the options before the command; *i ends at the command name. */
static int globals_parse(cli *c, int argc, char **argv, int *i) {
    const cli_opt globals[] = {{"--server", &c->server_opt, NULL},
                               {"--session", &c->session_opt, NULL},
                               {"--cacert", &c->cacert_opt, NULL},
                               {"--no-retry", NULL, &c->no_retry},
                               {NULL, NULL, NULL}};
    const cli_opt *const tables[] = {globals, NULL};
    for (*i = 1; *i < argc && argv[*i][0] == '-' && argv[*i][1] != '\0'; ++*i) {
        if (strcmp(argv[*i], "--") == 0) {
            ++*i;
            break;
        }
        int rc = option_take(tables, argc, argv, i);
        if (rc != 0) return rc;
    }
    return 0;
}

/* Parses a command's arguments: its options in opts plus the global ones
 * anywhere; the positional ones move to the front of c->argv. */
static int args_parse(cli *c, const cli_opt *opts) {
    const cli_opt globals[] = {{"--server", &c->server_opt, NULL},
                               {"--session", &c->session_opt, NULL},
                               {"--cacert", &c->cacert_opt, NULL},
                               {"--no-retry", NULL, &c->no_retry},
                               {NULL, NULL, NULL}};
    const cli_opt *const tables[] = {globals, opts, NULL};
    int npos = 0, only_positional = 0;
    for (int i = 0; i < c->argc; i++) {
        char *arg = c->argv[i];
        if (only_positional || arg[0] != '-' || arg[1] == '\0') {
            c->argv[npos++] = arg;
        } else if (strcmp(arg, "--") == 0) {
            only_positional = 1;
        } else {
            int rc = option_take(tables, c->argc, c->argv, &i);
            if (rc != 0) return rc;
        }
    }
    c->argc = npos;
    return 0;
}

/* ---- server URL and session file ---- */

/* Checks url and writes its normalised form (scheme added, no trailing '/'). */
static int url_normalise(const char *url, char **out) {
    const char *sep = strstr(url, "://");
    char *full = sep ? str_dup(url) : str_concat("http://", url);
    if (!full) return fail(EXIT_REFUSED, "out of memory");
    size_t len = strlen(full);
    while (len > 0 && full[len - 1] == '/')
        full[--len] = '\0';
    sep = strstr(full, "://");
    int http = strncasecmp(full, "http://", 7) == 0 || strncasecmp(full, "https://", 8) == 0;
    if (!http || sep[3] == '\0' || strpbrk(full, " \t\r\n")) {
        free(full);
        return fail(EXIT_USAGE, "'%s' is not an http:// or https:// server URL", url);
    }
    *out = full;
    return 0;
}

/* Finds the session file: --session, $CHAT_SESSION_FILE or the XDG default. */
static int session_path_resolve(cli *c) {
    const char *path = c->session_opt ? c->session_opt : env_get("CHAT_SESSION_FILE");
    const char *xdg = env_get("XDG_CONFIG_HOME"), *home = env_get("HOME");
    if (path)
        c->session_path = str_dup(path);
    else if (xdg && xdg[0] == '/')
        c->session_path = str_concat(xdg, "/clusterchat/session");
    else {
        if (!home) {
            struct passwd *pw = getpwuid(getuid());
            home = pw ? pw->pw_dir : NULL;
        }
        if (!home) return fail(EXIT_USAGE, "cannot find a home directory; use --session FILE");
        c->session_path = str_concat(home, "/.config/clusterchat/session");
    }
    return c->session_path ? 0 : fail(EXIT_REFUSED, "out of memory");
}

static void session_cleanup(session *s) {
    free(s->server);
    secret_free(s->token);
    s->server = NULL;
    s->token = NULL;
}

/* Takes one "key=value" line of the session file into s. */
static int session_line(session *s, char *line) {
    char **field = NULL;
    if (strncmp(line, "server=", 7) == 0)
        field = &s->server;
    else if (strncmp(line, "token=", 6) == 0)
        field = &s->token;
    if (!field) return 0; /* comments, blank lines and unknown keys */
    char *value = strchr(line, '=') + 1;
    secret_free(*field);
    if (field == &s->server) return url_normalise(value, field) == 0 ? 0 : -1;
    *field = str_dup(value);
    return *field ? 0 : -1;
}

/* Warns when the session file can be read by other users. */
static void session_check_mode(FILE *f, const char *path) {
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
        fail(0, "warning: %s is accessible by other users (chmod 600 it)", path);
}

/* Reads the session file into s. A missing file means no session; an
 * unreadable or damaged one is reported and treated as no session (so that
 * login can replace it). */
static void session_load(const char *path, session *s) {
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno != ENOENT)
            fail(0, "warning: cannot read %s: %s; ignoring it", path, strerror(errno));
        return;
    }
    session_check_mode(f, path);
    char *line;
    int bad = 0;
    while (!bad && (line = line_read(f)) != NULL) {
        bad = session_line(s, line) != 0;
        secret_free(line);
    }
    fclose(f);
    if (bad || !s->server || !s->token) {
        session_cleanup(s);
        fail(0, "warning: the session file %s is damaged; ignoring it", path);
    }
}

/* Creates the directories leading to path (new ones with mode 0700). */
static int dirs_make(const char *path) {
    char *copy = str_dup(path);
    if (!copy) return fail(EXIT_REFUSED, "out of memory");
    int rc = 0;
    for (char *p = strchr(copy + 1, '/'); p && rc == 0; p = strchr(p + 1, '/')) {
        *p = '\0';
        if (mkdir(copy, 0700) != 0 && errno != EEXIST)
            rc = fail(EXIT_REFUSED, "cannot create %s: %s", copy, strerror(errno));
        *p = '/';
    }
    free(copy);
    return rc;
}

/* Writes the session to the open file fd (mode 0600) and closes it. */
static int session_write_fd(int fd, const char *server, const char *token) {
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        return -1;
    }
    int ok = fchmod(fd, 0600) == 0;
    ok = fprintf(f,
                 "# clusterchat session, written by chat; keep it private\n"
                 "server=%s\ntoken=%s\n",
                 server, token) > 0 &&
         ok;
    ok = fflush(f) == 0 && fsync(fd) == 0 && ok;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* Replaces the session file atomically (a private temp file, then rename). */
static int session_save(const char *path, const char *server, const char *token) {
    int rc = dirs_make(path);
    char *tmp = rc == 0 ? str_concat(path, ".XXXXXX") : NULL;
    if (rc != 0 || !tmp) {
        free(tmp);
        return rc ? rc : fail(EXIT_REFUSED, "out of memory");
    }
    int fd = mkstemp(tmp);
    if (fd < 0 || session_write_fd(fd, server, token) != 0 || rename(tmp, path) != 0) {
        rc = fail(EXIT_REFUSED, "cannot write %s: %s", path, strerror(errno));
        if (fd >= 0) unlink(tmp);
    }
    free(tmp);
    return rc;
}

static int session_remove(const char *path) {
    if (unlink(path) != 0 && errno != ENOENT)
        return fail(EXIT_REFUSED, "cannot remove %s: %s", path, strerror(errno));
    return 0;
}

/* Whether the saved session belongs to the server in use. */
static int session_fits(const cli *c) {
    return c->saved.token && c->saved.server && strcmp(c->saved.server, c->server) == 0;
}

/* A client for the server in use, with the CA file if one is given; NULL on OOM. */
static chat_client *client_new(const cli *c) {
    chat_client *client = chat_client_new(c->server);
    if (client && c->cacert_opt && chat_client_set_cacert(client, c->cacert_opt) != CHAT_OK) {
        chat_client_free(client);
        return NULL;
    }
    return client;
}

/* Loads the session, picks the server and creates the client; with
 * need_session, fails unless there is a session for that server. */
static int cli_open(cli *c, int need_session) {
    if (!c->server_opt) c->server_opt = env_get("CHAT_SERVER");
    if (!c->cacert_opt) c->cacert_opt = env_get("CHAT_CACERT");
    int rc = session_path_resolve(c);
    if (rc == 0) session_load(c->session_path, &c->saved);
    const char *url = c->server_opt ? c->server_opt : c->saved.server;
    if (rc == 0) rc = url_normalise(url ? url : CHAT_DEFAULT_SERVER, &c->server);
    if (rc == 0 && need_session && !c->saved.token)
        rc = fail(EXIT_USAGE, "not logged in (no session in %s); run 'chat login EMAIL' first",
                  c->session_path);
    else if (rc == 0 && need_session && !session_fits(c))
        rc = fail(EXIT_USAGE, "the saved session is for %s, not %s; log in there first",
                  c->saved.server, c->server);
    if (rc == 0 && !(c->client = client_new(c)))
        rc = fail(EXIT_REFUSED, "cannot create the HTTP client");
    if (rc == 0 && c->no_retry) chat_client_set_retry(c->client, 0);
    if (rc == 0 && session_fits(c) && chat_client_set_token(c->client, c->saved.token) != CHAT_OK)
        rc = fail(EXIT_REFUSED, "the session file %s is damaged; remove it and log in again",
                  c->session_path);
    return rc;
}

static void cli_cleanup(cli *c) {
    chat_client_free(c->client);
    session_cleanup(&c->saved);
    free(c->server);
    free(c->session_path);
}

/* ---- passwords ---- */

static void on_signal_restore_tty(int sig) {
    if (tty_saved_valid) tcsetattr(STDIN_FILENO, TCSAFLUSH, &tty_saved);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Shows prompt on the terminal and reads a line from it without echo. */
static char *password_prompt(const char *prompt) {
    FILE *tty = fopen("/dev/tty", "w");
    FILE *out = tty ? tty : stderr;
    fputs(prompt, out);
    fflush(out);
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_signal_restore_tty;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    struct termios quiet;
    tty_saved_valid = tcgetattr(STDIN_FILENO, &tty_saved) == 0;
    quiet = tty_saved;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    if (tty_saved_valid) tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    char *line = line_read(stdin);
    if (tty_saved_valid) tcsetattr(STDIN_FILENO, TCSAFLUSH, &tty_saved);
    tty_saved_valid = 0;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    fputc('\n', out);
    if (tty) fclose(tty);
    return line;
}

/* Asks on the terminal; with confirm, asks twice and compares. */
static int password_ask(int confirm, char **out) {
    *out = password_prompt("Password: ");
    if (!*out || !confirm || !**out) return 0;
    char *again = password_prompt("Repeat password: ");
    int same = again && strcmp(again, *out) == 0;
    secret_free(again);
    if (same) return 0;
    secret_free(*out);
    *out = NULL;
    return fail(EXIT_USAGE, "the passwords do not match");
}

/* The password: $CHAT_PASSWORD, else the terminal, else a line of stdin. */
static int password_get(int confirm, char **out) {
    const char *env = getenv("CHAT_PASSWORD");
    int rc = 0;
    *out = NULL;
    if (env)
        *out = str_dup(env);
    else if (isatty(STDIN_FILENO))
        rc = password_ask(confirm, out);
    else
        *out = line_read(stdin);
    if (rc == 0 && (!*out || !**out)) {
        secret_free(*out);
        *out = NULL;
        rc = fail(EXIT_USAGE, "no password given (set CHAT_PASSWORD, type it when asked, "
                              "or pipe it to standard input)");
    }
    return rc;
}

/* ---- output ---- */

/* Prints s with control characters escaped, so a message cannot drive the
 * terminal or break the one-line-per-message format. */
static void text_print(FILE *f, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n')
            fputs("\\n", f);
        else if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            fprintf(f, "\\x%02x", *p);
        else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) /* C1 controls */
            fprintf(f, "\\u%04x", *++p);
        else
            fputc(*p, f);
    }
}

/* Prints "YYYY-MM-DD HH:MM:SS NAME: TEXT" in local time. */
/* How a room event reads after its actor's name: words before the
 * event's text (the target's name) and after it; NULL after: the text is
 * not printed (docs/API.md, "Room events"). */
static const struct event_words {
    const char *event, *before, *after;
} event_words[] = {
    {"joined", " joined the room", NULL},   {"left", " left the room", NULL},
    {"invited", " added ", " to the room"}, {"removed", " removed ", " from the room"},
    {"banned", " banned ", ""},             {"unbanned", " lifted the ban on ", ""},
    {"role", " changed the role of ", ""},
};

/* Prints a room event as a line in words, after its time. */
static void event_print(const chat_message *m) {
    text_print(stdout, m->name);
    if (strcmp(m->event, "reaction") == 0) {
        int removed = m->action && strcmp(m->action, "removed") == 0;
        fputs(removed ? " took back " : " reacted ", stdout);
        text_print(stdout, m->text);
        printf(removed ? " on message %s" : " to message %s", m->target ? m->target : "?");
    } else if (strcmp(m->event, "edited") == 0) {
        printf(" edited message %s: ", m->target ? m->target : "?");
        text_print(stdout, m->text);
    } else if (strcmp(m->event, "message_removed") == 0) {
        printf(": message %s ", m->target ? m->target : "?");
        text_print(stdout, m->text);
    } else {
        const struct event_words *w = NULL;
        for (size_t i = 0; i < sizeof event_words / sizeof *event_words; i++)
            if (strcmp(m->event, event_words[i].event) == 0) w = &event_words[i];
        if (!w) printf(" [%s] ", m->event);
        else fputs(w->before, stdout);
        if (!w || w->after) text_print(stdout, m->text);
        if (w && w->after) fputs(w->after, stdout);
        if (m->role && m->role[0] && strcmp(m->event, "role") == 0) printf(" to %s", m->role);
    }
}

static void message_print(const chat_message *m) {
    char when[64] = "(bad time)";
    int64_t ms = m->timestamp;
    time_t secs = (time_t)(ms / 1000 - (ms % 1000 < 0 ? 1 : 0));
    struct tm tm;
    if (localtime_r(&secs, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    printf("%s ", when);
    if (m->event) {
        event_print(m);
        putchar('\n');
        return;
    }
    text_print(stdout, m->name);
    if (m->reply_to) {
        fputs(" (replying to ", stdout);
        text_print(stdout, m->quote_name ? m->quote_name : "");
        fputs(": \"", stdout);
        text_print(stdout, m->quote_text ? m->quote_text : "");
        fputs("\")", stdout);
    }
    fputs(": ", stdout);
    text_print(stdout, m->text);
    putchar('\n');
}

/* Prints the messages as a JSON array, one message per line. */
static int messages_print_json(const chat_message_list *list) {
    fputs("[", stdout);
    for (size_t i = 0; i < list->count; i++) {
        const chat_message *m = &list->items[i];
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", m->id, "userId", m->user_id, "name",
                      m->name, "text", m->text, "timestamp", (json_int_t)m->timestamp);
        if (!o) return fail(EXIT_REFUSED, "cannot encode message %s as JSON", m->id);
        fputs(i ? ",\n  " : "\n  ", stdout);
        json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
    }
    fputs(list->count ? "\n]\n" : "]\n", stdout);
    return 0;
}

/* Flushes stdout; a failed write turns a success into exit code 1. */
static int output_finish(int rc) {
    if ((fflush(stdout) != 0 || ferror(stdout)) && rc == 0)
        return fail(EXIT_REFUSED, "cannot write the output: %s", strerror(errno));
    return rc;
}

/* ---- commands ---- */

/* Best effort: ends the session the file held before it is replaced. */
static void old_session_end(const cli *c, const char *new_token) {
    if (!session_fits(c) || strcmp(c->saved.token, new_token) == 0) return;
    chat_client *old = client_new(c);
    if (old && chat_client_set_token(old, c->saved.token) == CHAT_OK) {
        chat_client_set_timeout(old, CHAT_OLD_SESSION_TIMEOUT_MS);
        chat_logout(old);
    }
    chat_client_free(old);
}

/* After register or login: stores the session and greets the user. */
static int auth_finish(cli *c, int err, const chat_user *user, const char *action) {
    if (err != CHAT_OK) return report(c, err, action);
    const char *token = chat_client_token(c->client);
    old_session_end(c, token);
    int rc = session_save(c->session_path, c->server, token);
    if (rc != 0) return rc;
    fputs("logged in as ", stdout);
    text_print(stdout, user->name);
    if (user->email && user->email[0]) printf(" <%s>", user->email);
    printf(" (id %s)\n", user->id);
    return 0;
}

static int cmd_register(cli *c) {
    const char *name = NULL;
    const cli_opt opts[] = {{"--name", &name, NULL}, {NULL, NULL, NULL}};
    int rc = args_parse(c, opts);
    if (rc == 0 && c->argc != 1) rc = fail(EXIT_USAGE, "usage: chat register EMAIL [--name NAME]");
    if (rc == 0) rc = cli_open(c, 0);
    char *password = NULL;
    if (rc == 0) rc = password_get(1, &password);
    if (rc == 0) {
        chat_user user;
        int err = chat_register(c->client, c->argv[0], password, name, &user);
        rc = auth_finish(c, err, &user, "registration");
        chat_user_cleanup(&user);
    }
    secret_free(password);
    return rc;
}

/* chat login --token: the token from $CHAT_TOKEN or standard input, never
 * from the command line, where other users of the machine can see it. */
static int login_token(cli *c) {
    const char *env = getenv("CHAT_TOKEN");
    int rc = c->argc != 0 ? fail(EXIT_USAGE, "usage: chat login --token (the token in "
                                             "$CHAT_TOKEN or on standard input)")
                          : cli_open(c, 0);
    char *jwt = NULL;
    if (rc == 0 && !(jwt = env ? str_dup(env) : line_read(stdin)))
        rc = fail(EXIT_USAGE, "no token given (set CHAT_TOKEN or pipe it to standard input)");
    if (rc == 0) {
        chat_user user;
        int err = chat_login_token(c->client, jwt, &user);
        rc = auth_finish(c, err, &user, "token login");
        chat_user_cleanup(&user);
    }
    secret_free(jwt);
    return rc;
}

static int cmd_login(cli *c) {
    int with_token = 0;
    const cli_opt opts[] = {{"--token", NULL, &with_token}, {NULL, NULL, NULL}};
    int rc = args_parse(c, opts);
    if (rc == 0 && with_token) return login_token(c);
    if (rc == 0 && c->argc != 1) rc = fail(EXIT_USAGE, "usage: chat login EMAIL");
    if (rc == 0) rc = cli_open(c, 0);
    char *password = NULL;
    if (rc == 0) rc = password_get(0, &password);
    if (rc == 0) {
        chat_user user;
        int err = chat_login(c->client, c->argv[0], password, &user);
        rc = auth_finish(c, err, &user, "login");
        chat_user_cleanup(&user);
    }
    secret_free(password);
    return rc;
}

/* Where a send goes and what it answers (NULL: the lobby, nothing). */
typedef struct send_target {
    const char *room;
    const char *reply_to;
} send_target;

/* The text to send: the positional words joined, or NULL after an error. */
static char *send_text(cli *c, send_target *to, int *rc) {
    const cli_opt opts[] = {{"--room", &to->room, NULL},
                            {"--reply-to", &to->reply_to, NULL},
                            {NULL, NULL, NULL}};
    char *text = NULL;
    *rc = args_parse(c, opts);
    if (*rc == 0 && c->argc < 1)
        *rc = fail(EXIT_USAGE, "usage: chat send [--room R] [--reply-to ID] TEXT...");
    else if (*rc == 0 && !(text = words_join(c->argc, c->argv)))
        *rc = fail(EXIT_REFUSED, "out of memory");
    else if (*rc == 0 && text[0] == '\0')
        *rc = fail(EXIT_USAGE, "nothing to send: the text is empty");
    if (*rc != 0) {
        free(text);
        text = NULL;
    }
    return text;
}

static int cmd_send(cli *c) {
    int rc;
    send_target to = {NULL, NULL};
    char *text = send_text(c, &to, &rc);
    if (rc == 0) rc = cli_open(c, 1);
    if (rc == 0) {
        chat_message msg;
        int err = to.room || to.reply_to
                      ? chat_send_reply(c->client, to.room, text, to.reply_to, &msg)
                      : chat_send(c->client, text, &msg);
        if (err == CHAT_OK)
            message_print(&msg);
        else
            rc = report(c, err, "sending");
        chat_message_cleanup(&msg);
    }
    free(text);
    return rc;
}

/* Parses the value s of option name: a whole number from min to INT_MAX;
 * *out is left alone when s is NULL (the option was not given). */
static int number_parse(const char *s, const char *name, int min, int *out) {
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (s && (errno != 0 || end == s || *end != '\0' || v < min || v > INT_MAX))
        return fail(EXIT_USAGE, "%s needs a whole number >= %d, not '%s'", name, min, s);
    if (s) *out = (int)v;
    return 0;
}

static int cmd_history(cli *c) {
    const char *after = NULL, *limit_text = NULL;
    int json = 0, limit = 0;
    const cli_opt opts[] = {{"--after", &after, NULL},
                            {"--limit", &limit_text, NULL},
                            {"--json", NULL, &json},
                            {NULL, NULL, NULL}};
    int rc = args_parse(c, opts);
    if (rc == 0 && c->argc != 0)
        rc = fail(EXIT_USAGE, "usage: chat history [--after ID] [--limit N] [--json]");
    if (rc == 0) rc = number_parse(limit_text, "--limit", 0, &limit);
    if (rc == 0) rc = cli_open(c, 0);
    if (rc != 0) return rc;
    chat_message_list list;
    chat_client_set_timeout(c->client, CHAT_HISTORY_TIMEOUT_MS);
    int err = chat_history(c->client, after, limit, &list);
    if (err != CHAT_OK)
        rc = report(c, err, "reading the history");
    else if (json)
        rc = messages_print_json(&list);
    for (size_t i = 0; err == CHAT_OK && !json && i < list.count; i++)
        message_print(&list.items[i]);
    chat_message_list_cleanup(&list);
    return rc;
}

/* What "chat tail" prints with: how many messages are still wanted. */
typedef struct tail_out {
    int left;      /* messages still to print, 0 for no limit */
    int write_err; /* errno of a failed write to stdout, 0 if none */
} tail_out;

/* Prints a typing or presence signal as one "* " line (chat tail --signals). */
static void on_tail_signal(const char *kind, const char *data, size_t len, void *arg) {
    (void)arg;
    json_t *root = json_loadb(data, len, 0, NULL);
    const char *name = json_string_value(json_object_get(root, "name"));
    json_t *count = json_object_get(root, "count");
    if (strcmp(kind, "typing") == 0 && name)
        printf("* %s %s\n", name,
               json_is_true(json_object_get(root, "stopped")) ? "stopped typing" : "is typing");
    else if (strcmp(kind, "presence") == 0 && json_is_integer(count)) {
        printf("* %lld online", (long long)json_integer_value(count));
        size_t i;
        json_t *u;
        json_t *joined = json_object_get(root, "joined"), *left = json_object_get(root, "left");
        json_array_foreach(joined, i, u) {
            const char *who = json_string_value(json_object_get(u, "name"));
            printf(", +%s", who ? who : "?");
        }
        json_array_foreach(left, i, u) {
            const char *who = json_string_value(json_object_get(u, "userId"));
            printf(", -%s", who ? who : "?");
        }
        putchar('\n');
    }
    fflush(stdout);
    json_decref(root);
}

/* Prints one message at once (stdout may be a pipe); non-zero to stop. */
static int on_tail_message(const chat_message *m, void *arg) {
    tail_out *o = arg;
    message_print(m);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        o->write_err = errno ? errno : EIO;
        return 1;
    }
    return o->left > 0 && --o->left == 0;
}

static int cmd_tail(cli *c) {
    const char *room = NULL, *after = NULL, *count_text = NULL;
    int ws = 0, signals = 0;
    const cli_opt opts[] = {{"--room", &room, NULL},
                            {"--after", &after, NULL},
                            {"--count", &count_text, NULL},
                            {"--ws", NULL, &ws},
                            {"--signals", NULL, &signals},
                            {NULL, NULL, NULL}};
    tail_out out = {0, 0};
    int rc = args_parse(c, opts);
    if (rc == 0 && c->argc != 0)
        rc = fail(EXIT_USAGE,
                  "usage: chat tail [--room R] [--after ID] [--count N] [--ws] [--signals]");
    if (rc == 0) rc = number_parse(count_text, "--count", 1, &out.left);
    if (rc == 0) rc = cli_open(c, ws);
    if (rc != 0) return rc;
    if (signals) chat_client_on_signal(c->client, on_tail_signal, NULL);
    int err = ws ? chat_tail_ws(c->client, room, after, on_tail_message, &out)
                 : chat_tail(c->client, room, after, on_tail_message, &out);
    if (out.write_err)
        return fail(EXIT_REFUSED, "cannot write the output: %s", strerror(out.write_err));
    if (err == CHAT_OK) return 0;
    rc = report(c, err, "following the room");
    const char *last = chat_client_last_event_id(c->client);
    if (last && err != CHAT_ERR_USAGE) fail(0, "resume with: chat tail --after %s", last);
    return rc;
}

/* Ends the session; a session the server no longer knows is removed too. */
static int cmd_logout(cli *c) {
    const cli_opt opts[] = {{NULL, NULL, NULL}};
    int rc = args_parse(c, opts);
    if (rc == 0 && c->argc != 0) rc = fail(EXIT_USAGE, "usage: chat logout");
    if (rc == 0) rc = cli_open(c, 1);
    if (rc != 0) return rc;
    int err = chat_logout(c->client);
    if (err == CHAT_OK || err == CHAT_ERR_AUTH) rc = session_remove(c->session_path);
    if (err == CHAT_OK && rc == 0)
        puts("logged out");
    else if (err == CHAT_ERR_AUTH)
        rc = fail(EXIT_REFUSED,
                  "the server had already ended this session (%s); "
                  "the local session is removed",
                  chat_client_error(c->client));
    else if (err != CHAT_OK)
        rc = report(c, err, "logout");
    return rc;
}

/* Runs a room call that prints done on success. */
static int room_call_finish(cli *c, int err, const char *action, const char *done) {
    if (err != CHAT_OK) return report(c, err, action);
    puts(done);
    return 0;
}

/* chat room create NAME [--private] | chat room leave NAME | chat room join NAME */
static int cmd_room(cli *c) {
    int private_room = 0;
    const cli_opt opts[] = {{"--private", NULL, &private_room}, {NULL, NULL, NULL}};
    int rc = args_parse(c, opts);
    int create = rc == 0 && c->argc == 2 && strcmp(c->argv[0], "create") == 0;
    int leave = rc == 0 && c->argc == 2 && strcmp(c->argv[0], "leave") == 0 && !private_room;
    int join = rc == 0 && c->argc == 2 && strcmp(c->argv[0], "join") == 0 && !private_room;
    if (rc == 0 && !create && !leave && !join)
        rc = fail(EXIT_USAGE, "usage: chat room create NAME [--private] | chat room leave NAME"
                              " | chat room join NAME");
    if (rc == 0) rc = cli_open(c, 1);
    if (rc != 0) return rc;
    if (create)
        return room_call_finish(c, chat_room_create(c->client, c->argv[1], private_room),
                                "creating the room",
                                private_room ? "private room ready" : "room ready");
    if (join)
        return room_call_finish(c, chat_room_join(c->client, c->argv[1]), "joining", "joined");
    return room_call_finish(c, chat_room_leave(c->client, c->argv[1]), "leaving the room", "left");
}

static int cmd_invite(cli *c) {
    const cli_opt opts[] = {{NULL, NULL, NULL}};
    int rc = args_parse(c, opts);
    if (rc == 0 && c->argc != 2) rc = fail(EXIT_USAGE, "usage: chat invite ROOM USER");
    if (rc == 0) rc = cli_open(c, 1);
    if (rc != 0) return rc;
    return room_call_finish(c, chat_room_add(c->client, c->argv[0], c->argv[1]), "inviting",
                            "added");
}

static int cmd_dm(cli *c) {
    const cli_opt opts[] = {{NULL, NULL, NULL}};
    int rc = args_parse(c, opts);
    if (rc == 0 && c->argc != 1) rc = fail(EXIT_USAGE, "usage: chat dm USER");
    if (rc == 0) rc = cli_open(c, 1);
    if (rc != 0) return rc;
    char *room = NULL;
    int err = chat_dm(c->client, c->argv[0], &room);
    rc = room_call_finish(c, err, "opening the conversation", err == CHAT_OK ? room : "");
    free(room);
    return rc;
}

static int cmd_remove_message(cli *c) {
    const cli_opt opts[] = {{NULL, NULL, NULL}};
    int rc = args_parse(c, opts);
    if (rc == 0 && c->argc != 2) rc = fail(EXIT_USAGE, "usage: chat remove-message ROOM ID");
    if (rc == 0) rc = cli_open(c, 1);
    if (rc != 0) return rc;
    return room_call_finish(c, chat_message_remove(c->client, c->argv[0], c->argv[1]),
                            "removing the message", "removed");
}

static int cmd_edit(cli *c) {
    const cli_opt opts[] = {{NULL, NULL, NULL}};
    int rc = args_parse(c, opts);
    char *text = NULL;
    if (rc == 0 && c->argc < 3) rc = fail(EXIT_USAGE, "usage: chat edit ROOM ID TEXT...");
    else if (rc == 0 && !(text = words_join(c->argc - 2, c->argv + 2)))
        rc = fail(EXIT_REFUSED, "out of memory");
    else if (rc == 0 && text[0] == '\0') rc = fail(EXIT_USAGE, "the new text is empty");
    if (rc == 0) rc = cli_open(c, 1);
    if (rc == 0)
        rc = room_call_finish(c, chat_message_edit(c->client, c->argv[0], c->argv[1], text),
                              "editing the message", "edited");
    free(text);
    return rc;
}

static int cmd_react(cli *c) {
    int remove = 0;
    const cli_opt opts[] = {{"--remove", NULL, &remove}, {NULL, NULL, NULL}};
    int rc = args_parse(c, opts);
    if (rc == 0 && c->argc != 3) rc = fail(EXIT_USAGE, "usage: chat react ROOM ID EMOJI [--remove]");
    if (rc == 0) rc = cli_open(c, 1);
    if (rc != 0) return rc;
    return room_call_finish(c, chat_react(c->client, c->argv[0], c->argv[1], c->argv[2], !remove),
                            remove ? "taking the reaction back" : "reacting",
                            remove ? "reaction taken back" : "reacted");
}

/* Parses no options, wants exactly n arguments (else usage), opens the session. */
static int member_args(cli *c, int n, const char *usage_line) {
    const cli_opt opts[] = {{NULL, NULL, NULL}};
    int rc = args_parse(c, opts);
    if (rc == 0 && c->argc != n) rc = fail(EXIT_USAGE, "usage: %s", usage_line);
    return rc == 0 ? cli_open(c, 1) : rc;
}

/* chat members ROOM: one line per member, "ROLE<TAB>USER-ID<TAB>NAME". */
static int cmd_members(cli *c) {
    int rc = member_args(c, 1, "chat members ROOM");
    if (rc != 0) return rc;
    chat_member_list list;
    int err = chat_members(c->client, c->argv[0], &list);
    if (err != CHAT_OK) return report(c, err, "listing the members");
    for (size_t i = 0; i < list.count; i++)
        printf("%s\t%s\t%s\n", list.items[i].role, list.items[i].user_id, list.items[i].name);
    chat_member_list_cleanup(&list);
    return 0;
}

static int cmd_role(cli *c) {
    int rc = member_args(c, 3, "chat role ROOM USER owner|moderator|member");
    if (rc == 0 && strcmp(c->argv[2], "banned") == 0)
        rc = fail(EXIT_USAGE, "to ban a user: chat ban ROOM USER");
    if (rc != 0) return rc;
    return room_call_finish(c, chat_room_set_role(c->client, c->argv[0], c->argv[1], c->argv[2]),
                            "giving the role", c->argv[2]);
}

static int cmd_ban(cli *c) {
    int rc = member_args(c, 2, "chat ban ROOM USER");
    if (rc != 0) return rc;
    return room_call_finish(c, chat_room_set_role(c->client, c->argv[0], c->argv[1], "banned"),
                            "banning", "banned");
}

/* chat unban and chat remove-member: the same call (a banned user is no member). */
static int cmd_unban(cli *c) {
    int rc = member_args(c, 2, "chat unban ROOM USER-ID");
    if (rc != 0) return rc;
    return room_call_finish(c, chat_room_remove_member(c->client, c->argv[0], c->argv[1]),
                            "lifting the ban", "unbanned");
}

static int cmd_remove_member(cli *c) {
    int rc = member_args(c, 2, "chat remove-member ROOM USER-ID");
    if (rc != 0) return rc;
    return room_call_finish(c, chat_room_remove_member(c->client, c->argv[0], c->argv[1]),
                            "removing the member", "removed");
}

static int cmd_lock(cli *c) {
    int rc = member_args(c, 1, "chat lock USER-ID");
    if (rc != 0) return rc;
    return room_call_finish(c, chat_user_lock(c->client, c->argv[0], 1), "locking", "locked");
}

static int cmd_unlock(cli *c) {
    int rc = member_args(c, 1, "chat unlock USER-ID");
    if (rc != 0) return rc;
    return room_call_finish(c, chat_user_lock(c->client, c->argv[0], 0), "unlocking", "unlocked");
}

/* chat read ROOM ID */
static int cmd_read(cli *c) {
    const cli_opt opts[] = {{NULL, NULL, NULL}};
    int rc = args_parse(c, opts);
    if (rc == 0 && c->argc != 2) rc = fail(EXIT_USAGE, "usage: chat read ROOM ID");
    if (rc == 0) rc = cli_open(c, 1);
    if (rc != 0) return rc;
    return room_call_finish(c, chat_room_read(c->client, c->argv[0], c->argv[1]),
                            "marking the room read", "marked");
}

/* One line of chat rooms: the name, the unread count (99+ from the cap
 * on), and the kind and role when there are. */
static void room_entry_print(const chat_room_entry *e) {
    printf("%s", e->name);
    if (e->unread >= 100) printf("  99+ unread");
    else if (e->unread >= 0) printf("  %d unread", e->unread);
    if (e->kind || e->role)
        printf("  (%s%s%s)", e->kind ? e->kind : "", e->kind && e->role ? ", " : "",
               e->role ? e->role : "");
    putchar('\n');
}

/* chat rooms */
static int cmd_rooms(cli *c) {
    const cli_opt opts[] = {{NULL, NULL, NULL}};
    int rc = args_parse(c, opts);
    if (rc == 0 && c->argc != 0) rc = fail(EXIT_USAGE, "usage: chat rooms");
    if (rc == 0) rc = cli_open(c, 0);
    if (rc != 0) return rc;
    chat_room_list list;
    int err = chat_rooms(c->client, &list);
    if (err != CHAT_OK) return report(c, err, "listing the rooms");
    for (size_t i = 0; i < list.count; i++) room_entry_print(&list.rooms[i]);
    chat_room_list_cleanup(&list);
    return 0;
}

/* Lists who is online in a room, page after page: the count, then one
 * "name<TAB>id" line per user. */
static int cmd_who(cli *c) {
    const cli_opt opts[] = {{NULL, NULL, NULL}};
    int rc = args_parse(c, opts);
    if (rc == 0 && c->argc != 1) rc = fail(EXIT_USAGE, "usage: chat who ROOM");
    if (rc == 0) rc = cli_open(c, 0);
    char *after = NULL;
    for (int page = 0; rc == 0; page++) {
        chat_online o;
        int err = chat_room_online(c->client, c->argv[0], after, 1000, &o);
        free(after);
        after = NULL;
        if (err != CHAT_OK) return report(c, err, "reading who is online");
        if (page == 0) printf("%lld online\n", o.count);
        for (size_t i = 0; i < o.n; i++) printf("%s\t%s\n", o.names[i], o.ids[i]);
        if (o.next && !(after = strdup(o.next))) rc = fail(EXIT_REFUSED, "out of memory");
        chat_online_cleanup(&o);
        if (!after) break;
    }
    free(after);
    return rc;
}

static int cmd_help(cli *c) {
    (void)c;
    usage(stdout);
    return 0;
}

/* The commands, by name. */
static const struct command {
    const char *name;   /* as typed */
    int (*run)(cli *c); /* returns the exit code or CLI_HELP */
} commands[] = {
    {"register", cmd_register}, {"login", cmd_login}, {"send", cmd_send},
    {"history", cmd_history},   {"tail", cmd_tail},   {"logout", cmd_logout},
    {"room", cmd_room},         {"invite", cmd_invite}, {"dm", cmd_dm},
    {"remove-message", cmd_remove_message},           {"edit", cmd_edit},
    {"react", cmd_react},
    {"help", cmd_help},
    {"members", cmd_members},   {"role", cmd_role},   {"ban", cmd_ban},
    {"unban", cmd_unban},       {"remove-member", cmd_remove_member},
    {"lock", cmd_lock},         {"unlock", cmd_unlock},
    {"read", cmd_read},         {"rooms", cmd_rooms},
    {"who", cmd_who},
};

int main(int argc, char **argv) {
    cli c = {0};
    int i, rc = globals_parse(&c, argc, argv, &i);
    const struct command *cmd = NULL;
    for (size_t k = 0; rc == 0 && i < argc && k < sizeof commands / sizeof commands[0]; k++)
        if (strcmp(commands[k].name, argv[i]) == 0) cmd = &commands[k];
    if (rc == 0 && i >= argc) {
        usage(stderr);
        rc = EXIT_USAGE;
    } else if (rc == 0 && !cmd) {
        rc = fail(EXIT_USAGE, "unknown command '%s' (see 'chat help')", argv[i]);
    } else if (rc == 0) {
        c.argc = argc - i - 1;
        c.argv = argv + i + 1;
        rc = cmd->run(&c);
    }
    if (rc == CLI_HELP) {
        usage(stdout);
        rc = 0;
    }
    cli_cleanup(&c);
    return output_finish(rc);
}
