// Read markers follow their user live (docs/API.md, "Read markers"), on
// the real stack: a WebSocket that sent subscribe_user gets a marker event
// when its user marks a room read through any chatd, and another user's
// connection never does; connections that did not ask get nothing new.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { CHATD_URLS, api, closeAll, connect, createRoom, register } from './lib.mjs';

const [first, second, third] = CHATD_URLS;

after(closeAll);

// Follows the user's own events on c; resolves once they are followed.
async function followUser(c) {
  const from = c.messages.length;
  c.send({ type: 'subscribe_user' });
  return c.next((m) => m.type === 'user_subscribed' || m.type === 'error', 'user_subscribed', from);
}

async function sendText(base, key, room, text) {
  const r = await api(base, 'POST', `/room/${room}/message/`, { body: { text }, key });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  return r.data.id;
}

async function markRead(base, key, room, id) {
  const r = await api(base, 'PUT', `/room/${room}/read`, { body: { id }, key });
  assert.equal(r.status, 200, JSON.stringify(r.data));
  return r.data;
}

test('a marker reaches every connection of its user on every chatd, and no one else', async () => {
  const alice = await register(first, 'alice'), bob = await register(first, 'bob');
  const room = await createRoom(first, alice, 'markers');
  const one = await sendText(first, bob, room, 'one');
  const two = await sendText(first, alice, room, 'two');
  const tabA = await connect(first, alice), tabB = await connect(second, alice);
  const other = await connect(third, bob), plain = await connect(second, alice);
  for (const c of [tabA, tabB, other]) assert.equal((await followUser(c)).type, 'user_subscribed');
  const again = await followUser(tabA); // once per connection
  assert.equal(again.type, 'error');
  assert.equal(again.code, 'bad_request');

  const started = Date.now();
  assert.equal((await markRead(third, alice, room, one)).moved, true);
  for (const c of [tabA, tabB]) {
    const m = await c.next((x) => x.type === 'marker', 'the marker');
    assert.deepEqual(m, { type: 'marker', room, id: one });
  }
  console.log(`# the marker reached both tabs after ${Date.now() - started} ms`);

  // bob's connection hears bob's marker, never alice's
  await markRead(first, bob, room, two);
  const mine = await other.next((x) => x.type === 'marker', 'bob\'s marker');
  assert.deepEqual(mine, { type: 'marker', room, id: two });
  assert.equal(other.messages.filter((x) => x.type === 'marker').length, 1);
  // an older id moves nothing and tells no one
  assert.equal((await markRead(second, alice, room, one)).moved, false);
  await markRead(second, alice, room, two);
  await tabA.next((x) => x.type === 'marker' && x.id === two, 'the second marker');
  assert.equal(tabA.messages.filter((x) => x.type === 'marker').length, 2);
  assert.equal(plain.messages.filter((x) => x.type === 'marker').length, 0);
});
