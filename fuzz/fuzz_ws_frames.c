/*
 * fuzz_ws_frames: any bytes as what a client sends on a WebSocket, through
 * the frame reader chatd uses (wslay's event API as a server, as ws_conn.c
 * sets it up, with its message-size limit) and every whole text message
 * through the checks ws_conn and the protocol parser make (UTF-8, then
 * ws_protocol_parse). Read in slices whose sizes the input's first byte
 * picks, as network reads cut it. A message the parser accepts must hold
 * what its type needs: a valid room, a valid resume id or none, a token of
 * the right length.
 */
#include <wslay/wslay.h>

#include "fuzz.h"
#include "validate.h"
#include "ws_conn.h"
#include "ws_protocol.h"

struct input {
    const uint8_t *data;
    size_t size, at;
    size_t slice; /* bytes per read */
};

static ssize_t on_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                       void *arg) {
    (void)flags;
    struct input *in = arg;
    if (in->at == in->size) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = in->size - in->at;
    if (n > in->slice) n = in->slice;
    if (n > len) n = len;
    memcpy(buf, in->data + in->at, n);
    in->at += n;
    return (ssize_t)n;
}

static ssize_t on_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *arg) {
    (void)ctx, (void)data, (void)flags, (void)arg;
    return (ssize_t)len;
}

static void check_parsed(const struct ws_msg *m) {
    switch (m->type) {
    case WS_MSG_AUTH: FUZZ_ASSERT(strlen(m->token) == TOKEN_LEN); break;
    case WS_MSG_SUBSCRIBE:
        FUZZ_ASSERT(validate_room_name(m->room));
        FUZZ_ASSERT(!m->after[0] || validate_stream_id(m->after));
        break;
    case WS_MSG_UNSUBSCRIBE: FUZZ_ASSERT(validate_room_name(m->room)); break;
    case WS_MSG_SEND:
        FUZZ_ASSERT(validate_room_name(m->room));
        FUZZ_ASSERT(m->text && m->text_len > 0 && m->text_len <= 4096);
        FUZZ_ASSERT(!m->client_msg_id[0] ||
                    validate_client_msg_id(m->client_msg_id, strlen(m->client_msg_id)));
        break;
    case WS_MSG_SUBSCRIBE_USER: /* names nothing: no room, no text */
        FUZZ_ASSERT(!m->room[0] && !m->text);
        break;
    }
}

static void on_message(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                       void *user) {
    (void)ctx, (void)user;
    size_t chars;
    FUZZ_ASSERT(arg->msg_length <= WS_CONN_MESSAGE_MAX);
    if (arg->opcode != WSLAY_TEXT_FRAME || !utf8_valid((const char *)arg->msg, arg->msg_length,
                                                       &chars))
        return;
    struct ws_msg m;
    const char *what;
    if (ws_protocol_parse((const char *)arg->msg, arg->msg_length, &m, &what) != API_E_OK) return;
    check_parsed(&m);
    ws_msg_cleanup(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const struct wslay_event_callbacks callbacks = {
        .recv_callback = on_recv, .send_callback = on_send, .on_msg_recv_callback = on_message};
    struct input in = {data, size, size ? 1 : 0, size ? (size_t)data[0] % 64 + 1 : 1};
    wslay_event_context_ptr ctx;
    if (wslay_event_context_server_init(&ctx, &callbacks, &in) != 0) return 0;
    wslay_event_config_set_max_recv_msg_length(ctx, WS_CONN_MESSAGE_MAX);
    while (in.at < in.size && wslay_event_get_read_enabled(ctx)) {
        if (wslay_event_recv(ctx) < 0) break;
        wslay_event_send(ctx);
    }
    wslay_event_context_free(ctx);
    return 0;
}
