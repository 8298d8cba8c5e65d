// GET /ws?signals=1 gets a room's ephemeral signals (docs/API.md, "Typing
// and presence") on the real stack: a typing signal sent with POST
// /room/<name>/typing on one chatd and the presence changes of users with
// streams on other chatd reach a WebSocket on another, as {"type":"typing"}
// and {"type":"presence"} without an id, as they do to a subscription that
// asked with "signals": true; a connection that did not ask for signals
// gets none of them, only the messages.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { CHATD_URLS, Client, api, closeAll, createRoom, register, until } from './lib.mjs';

const [first, second, third] = CHATD_URLS;

after(closeAll);

async function open(base, key, query) {
  const c = new Client(base, { cookie: key, query });
  await c.open();
  await c.next((m) => m.type === 'ready', 'ready');
  return c;
}

async function subscribe(c, room) {
  const from = c.messages.length;
  c.send({ type: 'subscribe', room });
  await c.next((m) => m.type === 'subscribed' && m.room === room, 'subscribed', from);
}

// Bob says he is typing until his own connection hears it: then his
// subscription hears the room's channel (its own first presence change
// may come before that, so it is no sign of it).
async function hearsSignals(c, base, key, room) {
  const id = await me(base, key);
  for (let tries = 0; tries < 50; tries++) {
    const from = c.messages.length;
    const r = await api(base, 'POST', `/room/${room}/typing`, { body: {}, key });
    assert.equal(r.status, 204);
    try {
      await until(() => c.messages.slice(from).some((m) => m.type === 'typing' && m.userId === id), 'own typing', 200);
      return;
    } catch (e) { /* not yet */ }
  }
  throw new Error('the connection never heard the room');
}

async function me(base, key) {
  const r = await api(base, 'GET', '/user/', { key });
  return r.data.id;
}

test('typing and presence reach a WebSocket on another chatd, without ids', async () => {
  const alice = await register(first, 'alice');
  const bob = await register(second, 'bob');
  const carol = await register(third, 'carol');
  const room = await createRoom(first, alice, 'signals');
  const aliceId = await me(first, alice);
  const carolId = await me(first, carol);
  const bobWs = await open(second, bob, '?signals=1');
  const plain = await open(second, bob, '');
  const perRoom = await open(second, bob, '');
  await subscribe(bobWs, room);
  await subscribe(plain, room);
  const fromRoom = perRoom.messages.length;
  perRoom.send({ type: 'subscribe', room, signals: true });
  await perRoom.next((m) => m.type === 'subscribed' && m.room === room, 'subscribed', fromRoom);
  const fromBad = plain.messages.length;
  plain.send({ type: 'subscribe', room: 'lobby', signals: 'yes' });
  assert.equal((await plain.next((m) => m.type === 'error', 'the error', fromBad)).code, 'bad_request');
  await hearsSignals(bobWs, first, bob, room);

  // carol's WebSocket on the third chatd makes her online in the room
  const carolWs = await open(third, carol, '');
  await subscribe(carolWs, room);
  const joined = await bobWs.next((m) => m.type === 'presence' && (m.joined || []).some((u) => u.userId === carolId), 'carol online');
  assert.equal(joined.room, room);
  assert.ok(joined.count >= 2, JSON.stringify(joined));
  assert.equal(joined.id, undefined);

  const r = await api(first, 'POST', `/room/${room}/typing`, { body: {}, key: alice });
  assert.equal(r.status, 204);
  const typing = await bobWs.next((m) => m.type === 'typing' && m.userId === aliceId, 'typing');
  assert.deepEqual({ ...typing }, { type: 'typing', room, userId: aliceId, name: 'alice', expiresIn: 6000 });
  await perRoom.next((m) => m.type === 'typing' && m.userId === aliceId, 'typing on the subscription that asked');

  // carol's subscription ends: she goes offline
  const from = bobWs.messages.length;
  carolWs.send({ type: 'unsubscribe', room });
  const left = await bobWs.next((m) => m.type === 'presence' && (m.left || []).some((u) => u.userId === carolId), 'carol offline', from);
  assert.equal(left.room, room);

  // the plain connection gets the message after the signals, and no signal
  const sent = await api(first, 'POST', `/room/${room}/message/`, { body: { text: 'after the signals' }, key: alice });
  assert.equal(sent.status, 201);
  await plain.next((m) => m.type === 'message' && m.text === 'after the signals', 'the message');
  assert.ok(!plain.messages.some((m) => m.type === 'typing' || m.type === 'presence'), JSON.stringify(plain.messages));
});
