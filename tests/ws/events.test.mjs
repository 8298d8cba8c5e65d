// Stored room events of issue 20 over GET /ws on the real stack: an edit
// and a reaction made by REST on one chatd reach a subscriber on another
// chatd live, in stream order, with their fields; a reply carries its
// quote; and a subscription resuming from the message replays the same
// events (docs/API.md, "Editing a message", "Reactions", "Replies").
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { CHATD_URLS, api, closeAll, connect, createRoom, register } from './lib.mjs';

const [first, second] = CHATD_URLS;

after(closeAll);

// Subscribes c to room (from after, when given) and waits for the answer.
async function subscribe(c, room, after) {
  const from = c.messages.length;
  c.send(after ? { type: 'subscribe', room, after } : { type: 'subscribe', room });
  const got = await c.next((m) => (m.type === 'subscribed' || m.type === 'error') && m.room === room,
    `the answer for ${room}`, from);
  assert.equal(got.type, 'subscribed', JSON.stringify(got));
}

// The first message event of c in room whose fields match want.
function event(c, room, want, what) {
  return c.next((m) => m.type === 'message' && m.room === room &&
    Object.entries(want).every(([k, v]) => m[k] === v), what);
}

test('edits, reactions and replies reach a WebSocket on another chatd live and on resume', async () => {
  const author = await register(first, 'ws author'), reader = await register(second, 'ws reader');
  const room = await createRoom(first, author, 'ws-events');
  const c = await connect(second, reader);
  await subscribe(c, room);

  const sent = await api(first, 'POST', `/room/${room}/message/`, { body: { text: 'first words' }, key: author });
  assert.equal(sent.status, 201);
  const id = sent.data.id;
  const edited = await api(first, 'PATCH', `/room/${room}/message/?id=${id}`, { body: { text: 'better words' }, key: author });
  assert.equal(edited.status, 200, JSON.stringify(edited.data));
  const reacted = await api(first, 'PUT', `/room/${room}/message/reaction?id=${id}`, { body: { emoji: '🎉' }, key: author });
  assert.equal(reacted.status, 200, JSON.stringify(reacted.data));
  const reply = await api(first, 'POST', `/room/${room}/message/`, { body: { text: 'indeed', replyTo: id }, key: author });
  assert.equal(reply.status, 201, JSON.stringify(reply.data));

  const message = await event(c, room, { id }, 'the message');
  const edit = await event(c, room, { event: 'edited', target: id }, 'the edited event');
  const reaction = await event(c, room, { event: 'reaction', target: id }, 'the reaction event');
  const quoted = await event(c, room, { id: reply.data.id }, 'the reply');
  assert.equal(message.text, 'first words');
  assert.deepEqual([edit.id, edit.text], [edited.data.eventId, 'better words']);
  assert.deepEqual([reaction.id, reaction.action, reaction.emoji, reaction.name],
    [reacted.data.eventId, 'added', '🎉', 'ws author']);
  assert.deepEqual(quoted.replyTo, { id, name: 'ws author', text: 'better words' });
  const order = c.messages.filter((m) => m.type === 'message' && m.room === room).map((m) => m.id);
  assert.deepEqual(order, [id, edit.id, reaction.id, reply.data.id], 'in stream order, once each');

  // a reply sent over the WebSocket itself, one to no message, one with a bad id
  c.send({ type: 'send', room, text: 'me too', clientMsgId: 'reply-1', replyTo: id });
  const ack = await c.next((m) => (m.type === 'ack' || m.type === 'error') && m.clientMsgId === 'reply-1', 'the reply\'s ack');
  assert.equal(ack.type, 'ack', JSON.stringify(ack));
  assert.deepEqual(ack.message.replyTo, { id, name: 'ws author', text: 'better words' });
  c.send({ type: 'send', room, text: 'to nothing', clientMsgId: 'reply-2', replyTo: '1-0' });
  const refused = await c.next((m) => (m.type === 'ack' || m.type === 'error') && m.clientMsgId === 'reply-2', 'the refusal');
  assert.deepEqual([refused.type, refused.code], ['error', 'reply_not_found']);
  const from = c.messages.length;
  c.send({ type: 'send', room, text: 'bad', clientMsgId: 'reply-3', replyTo: 'x' });
  const bad = await c.next((m) => m.type === 'error', 'the bad id', from);
  assert.equal(bad.code, 'invalid_reply_to');

  const resumed = await connect(second, reader);
  await subscribe(resumed, room, id);
  await event(resumed, room, { id: ack.message.id }, 'the replayed replies');
  const replayed = resumed.messages.filter((m) => m.type === 'message' && m.room === room).map((m) => m.id);
  assert.deepEqual(replayed, [edit.id, reaction.id, reply.data.id, ack.message.id]);
  c.close();
  resumed.close();
});
