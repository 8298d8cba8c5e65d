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

  const resumed = await connect(second, reader);
  await subscribe(resumed, room, id);
  await event(resumed, room, { id: reply.data.id }, 'the replayed reply');
  const replayed = resumed.messages.filter((m) => m.type === 'message' && m.room === room).map((m) => m.id);
  assert.deepEqual(replayed, [edit.id, reaction.id, reply.data.id]);
  c.close();
  resumed.close();
});
