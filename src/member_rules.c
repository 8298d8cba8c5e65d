/* member_rules: who may do what in a room (see member_rules.h). */
#include "member_rules.h"

#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const role_names[] = {"", "banned", "member", "moderator", "owner"};

const char *member_role_name(enum member_role role) { return role_names[role]; }

enum member_role member_role_parse(const char *name) {
    if (!name) return ROLE_NONE;
    for (int i = ROLE_BANNED; i <= ROLE_OWNER; i++)
        if (strcmp(name, role_names[i]) == 0) return (enum member_role)i;
    return ROLE_NONE;
}

static const char *const kind_names[] = {"public", "private", "direct"};

const char *room_kind_name(enum room_kind kind) { return kind_names[kind]; }

int room_kind_parse(const char *name, enum room_kind *kind) {
    if (!name) return -1;
    for (int i = ROOM_PUBLIC; i <= ROOM_DIRECT; i++)
        if (strcmp(name, kind_names[i]) == 0) {
            *kind = (enum room_kind)i;
            return 0;
        }
    return -1;
}

bool member_rules_is_admin(const char *admins, const char *email) {
    size_t len = strlen(email);
    for (const char *p = admins; len && *p;) {
        while (*p == ' ' || *p == ',') p++;
        size_t n = strcspn(p, ",");
        size_t end = n;
        while (end && p[end - 1] == ' ') end--;
        if (end == len && strncasecmp(p, email, len) == 0) return true;
        p += n;
    }
    return false;
}

void member_rules_direct_name(const char *a, const char *b, char out[MEMBER_DIRECT_NAME_LEN + 1]) {
    if (strcmp(a, b) > 0) {
        const char *t = a;
        a = b, b = t;
    }
    char pair[2 * CHAT_USER_ID_LEN + 2];
    int n = snprintf(pair, sizeof(pair), "%s:%s", a, b);
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)pair, n > 0 ? (size_t)n : 0);
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
    snprintf(out, MEMBER_DIRECT_NAME_LEN + 1, "dm-%.40s", hex);
}

static bool is_member(enum member_role role) { return role >= ROLE_MEMBER; }

bool member_rules_can_read(enum room_kind kind, enum member_role role) {
    return kind == ROOM_PUBLIC || is_member(role);
}

/* A non-member of a private or direct room learns nothing of it. */
static bool hidden(enum room_kind kind, enum member_role role) {
    return kind != ROOM_PUBLIC && !is_member(role);
}

api_error member_rules_send_error(enum room_kind kind, enum member_role role) {
    if (hidden(kind, role)) return API_E_NOT_FOUND;
    return role == ROLE_BANNED ? API_E_BANNED : API_E_OK;
}

api_error member_rules_remove_message_error(enum room_kind kind, enum member_role role) {
    if (hidden(kind, role)) return API_E_NOT_FOUND;
    return role >= ROLE_MODERATOR ? API_E_OK : API_E_FORBIDDEN;
}

static struct member_verdict refuse(api_error e) {
    return (struct member_verdict){.error = e};
}

static struct member_verdict noop(void) { return (struct member_verdict){.noop = true}; }

static struct member_verdict change(enum member_role role, const char *event) {
    return (struct member_verdict){.role = role, .event = event};
}

static struct member_verdict join(enum room_kind kind, enum member_role self) {
    if (hidden(kind, self)) return refuse(API_E_NOT_FOUND);
    if (self == ROLE_BANNED) return refuse(API_E_BANNED);
    return is_member(self) ? noop() : change(ROLE_MEMBER, "joined");
}

static struct member_verdict leave(enum room_kind kind, enum member_role self) {
    if (hidden(kind, self)) return refuse(API_E_NOT_FOUND);
    if (!is_member(self)) return noop(); /* a ban stays: leaving does not lift it */
    struct member_verdict v = change(ROLE_NONE, "left");
    v.needs_other_owner = self == ROLE_OWNER;
    return v;
}

/* Invite, remove and ban need a moderator or owner above the target. */
static struct member_verdict moderate(enum member_action action, enum member_role actor,
                                      enum member_role target) {
    if (actor < ROLE_MODERATOR) return refuse(API_E_FORBIDDEN);
    if (action == MEMBER_INVITE) {
        if (target == ROLE_BANNED) return refuse(API_E_USER_BANNED);
        return is_member(target) ? noop() : change(ROLE_MEMBER, "invited");
    }
    if (target >= actor && target != ROLE_NONE) return refuse(API_E_FORBIDDEN);
    if (action == MEMBER_BAN)
        return target == ROLE_BANNED ? noop() : change(ROLE_BANNED, "banned");
    if (target == ROLE_NONE) return noop();
    return change(ROLE_NONE, target == ROLE_BANNED ? "unbanned" : "removed");
}

/* An owner may step down (or demote another owner) only while another
 * owner remains, which the store checks as it applies the change. */
static struct member_verdict set_role(enum member_role actor, enum member_role target,
                                      enum member_role role) {
    if (role < ROLE_MEMBER) return refuse(API_E_INVALID_ROLE);
    if (actor != ROLE_OWNER) return refuse(API_E_FORBIDDEN);
    if (!is_member(target)) return refuse(API_E_NOT_MEMBER);
    if (target == role) return noop();
    struct member_verdict v = change(role, "role");
    v.needs_other_owner = target == ROLE_OWNER;
    return v;
}

struct member_verdict member_rules_decide(enum room_kind kind, enum member_action action,
                                          enum member_role actor, enum member_role target,
                                          enum member_role role) {
    switch (action) {
    case MEMBER_JOIN: return join(kind, actor);
    case MEMBER_LEAVE: return leave(kind, actor);
    default: break;
    }
    if (hidden(kind, actor)) return refuse(API_E_NOT_FOUND);
    if (kind == ROOM_DIRECT) return refuse(API_E_FORBIDDEN); /* two members, no more */
    if (action == MEMBER_SET_ROLE) return set_role(actor, target, role);
    return moderate(action, actor, target);
}

bool member_rules_revokes(const struct message *m, const char *user_id) {
    if (!m->event || !m->target || strcmp(m->target, user_id) != 0) return false;
    return strcmp(m->event, "left") == 0 || strcmp(m->event, "removed") == 0 ||
           strcmp(m->event, "banned") == 0;
}

size_t member_rules_kept(const struct message *msgs, size_t n, const char *user_id) {
    for (size_t i = 0; i < n; i++)
        if (member_rules_revokes(&msgs[i], user_id)) return i + 1;
    return n;
}
