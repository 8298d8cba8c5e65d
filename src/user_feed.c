/* user_feed: a user's own events for the user's streams, see user_feed.h. */
#include "user_feed.h"

#include <event2/buffer.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_keys.h"

struct hub_sub *user_feed_subscribe(struct hub *hub, const char *user_id, hub_event_fn *on_event,
                                    hub_ready_fn *on_ready, void *arg) {
    char feed[CHAT_USER_ID_LEN + 2];
    if (store_feed_of_user(feed, sizeof(feed), user_id) < 0) return NULL;
    return hub_subscribe(hub, feed, on_event, on_ready, arg);
}

int user_feed_event_append(struct evbuffer *out, const struct message *m, bool with_type) {
    if (!m->event || strcmp(m->event, "marker") != 0 || !m->target) return -1;
    json_t *ev = with_type ? json_pack("{s:s,s:s,s:s}", "type", "marker", "room", m->target,
                                       "id", m->text)
                           : json_pack("{s:s,s:s}", "room", m->target, "id", m->text);
    char *text = ev ? json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(ev);
    if (!text) return -1;
    int rc = evbuffer_add(out, text, strlen(text));
    free(text);
    return rc;
}
