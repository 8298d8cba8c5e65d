// GET /ws under the rooms' access rule (docs/API.md, "Private rooms and
// members"), on the real stack: a private room is subscribed to and sent
// into by its members only (everyone else gets not_found, as for a room
// never created), an invited user at once, a site administrator always;
// a banned user sends nothing; and a member removed on one chatd loses
// the subscription it holds on another, at the room event that removes
// it, live or replayed, while the connection and its other rooms go on.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHATD_URLS, Client, PASSWORD, WAIT_MS, api, closeAll, connect, unique, until } from './lib.mjs';

const [first, second] = CHATD_URLS;
const ADMIN_EMAIL = process.env.WS_ADMIN_EMAIL;

after(closeAll);

// Registers a user: {key, id, email}.
async function user(base, email = `${unique('acc')}@example.com`) {
  const r = await api(base, 'POST', '/user/', { body: { email, password: PASSWORD, name: 'access' } });
  if (r.status !== 201) throw new Error(`user: ${r.status} ${JSON.stringify(r.data)}`);
  return { key: r.data.authKey, id: r.data.id, email };
}

// A room of that kind owned by owner; returns its name.
async function room(base, owner, kind) {
  const name = unique(kind).toLowerCase().replace(/[^a-z0-9_-]/g, '-').slice(0, 64);
  const r = await api(base, 'POST', '/room/', { body: kind === 'public' ? { name } : { name, kind }, key: owner.key });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  return name;
}

async function member(base, owner, name, who, method = 'POST', body = { email: who.email }) {
  const r = await api(base, method, `/room/${name}/member${method === 'DELETE' ? `?userId=${who.id}` : ''}`,
    { body: method === 'DELETE' ? undefined : body, key: owner.key });
  assert.equal(r.status, 200, JSON.stringify(r.data));
  return r.data;
}

// Sends {type:'send'} and returns the ack or the error answering it.
async function send(c, room, text) {
  const clientMsgId = unique('m');
  c.send({ type: 'send', room, text, clientMsgId });
  return c.next((m) => (m.type === 'ack' || m.type === 'error') && m.clientMsgId === clientMsgId, `the answer to ${text}`);
}

// Subscribes and returns the subscribed or the error answering it.
async function subscribe(c, room, after) {
  const from = c.messages.length;
  c.send(after ? { type: 'subscribe', room, after } : { type: 'subscribe', room });
  return c.next((m) => (m.type === 'subscribed' || m.type === 'error') && m.room === room, `the answer for ${room}`, from);
}

test('a non-member gets not_found for a private room, as for one never created', async () => {
  const owner = await user(first), stranger = await user(first);
  const secret = await room(first, owner, 'private');
  const c = await connect(first, stranger.key);
  const missing = await subscribe(c, 'never-created-room');
  const hidden = await subscribe(c, secret);
  assert.equal(hidden.type, 'error');
  assert.deepEqual([hidden.code, hidden.message], [missing.code, missing.message]);
  assert.equal(hidden.code, 'not_found');
  const sent = await send(c, secret, 'let me in');
  assert.deepEqual([sent.type, sent.code], ['error', 'not_found']);
  const post = await api(first, 'POST', `/room/${secret}/message/`, { body: { text: 'x' }, key: stranger.key });
  assert.equal(post.data.error.code, sent.code, 'the same code as POST');
  const page = await api(first, 'GET', `/room/${secret}/message/`, { key: owner.key });
  assert.equal(page.data.length, 0, 'nothing was stored');
  c.close();
});

test('a member subscribes and sends; an invited user at once; an admin always', async () => {
  const owner = await user(first), guest = await user(first), admin = await user(first, ADMIN_EMAIL);
  const secret = await room(first, owner, 'private');
  const mine = await connect(first, owner.key);
  assert.equal((await subscribe(mine, secret)).type, 'subscribed');
  const ack = await send(mine, secret, 'from the owner');
  assert.equal(ack.type, 'ack');
  await mine.next((m) => m.type === 'message' && m.id === ack.message.id, 'the owner\'s message live');
  const theirs = await connect(second, guest.key);
  assert.equal((await subscribe(theirs, secret)).code, 'not_found', 'before the invitation');
  await member(first, owner, secret, guest);
  assert.equal((await subscribe(theirs, secret)).type, 'subscribed', 'right after the invitation');
  const reply = await send(theirs, secret, 'from the guest');
  assert.equal(reply.type, 'ack');
  await mine.next((m) => m.type === 'message' && m.id === reply.message.id, 'the guest\'s message on the other chatd');
  const boss = await connect(second, admin.key);
  assert.equal((await subscribe(boss, secret, ack.message.id)).type, 'subscribed', 'an admin reads every room');
  await boss.next((m) => m.type === 'message' && m.id === reply.message.id, 'the admin\'s replay');
  assert.equal((await send(boss, secret, 'from the admin')).type, 'ack');
  for (const c of [mine, theirs, boss]) c.close();
});

test('a member removed on one chatd loses the subscription held on another', async (t) => {
  const owner = await user(first), guest = await user(first);
  const secret = await room(first, owner, 'private');
  await member(first, owner, secret, guest);
  const c = await connect(second, guest.key);
  assert.equal((await subscribe(c, 'lobby')).type, 'subscribed');
  assert.equal((await subscribe(c, secret)).type, 'subscribed');
  const before = await send(c, secret, 'still a member');
  assert.equal(before.type, 'ack');
  await c.next((m) => m.type === 'message' && m.id === before.message.id, 'the message live');
  const started = performance.now();
  const removal = await member(first, owner, secret, guest, 'DELETE');
  const revoked = await c.next((m) => m.type === 'unsubscribed' && m.room === secret, 'the revocation');
  const ms = performance.now() - started;
  t.diagnostic(`removal on chatd 1 to unsubscribed on chatd 2: ${ms.toFixed(1)} ms`);
  assert.equal(revoked.reason, 'revoked');
  const i = c.messages.indexOf(revoked);
  const event = c.messages.findIndex((m) => m.type === 'message' && m.id === removal.eventId);
  assert.ok(event >= 0 && event < i, 'the removed event came first');
  assert.equal(c.messages[event].event, 'removed');
  assert.equal(c.closed, null, 'the connection stays open');
  const lobby = await send(c, 'lobby', 'the lobby goes on');
  assert.equal(lobby.type, 'ack');
  await c.next((m) => m.type === 'message' && m.room === 'lobby' && m.id === lobby.message.id, 'the lobby live');
  assert.equal((await subscribe(c, secret)).code, 'not_found', 'subscribing again');
  assert.equal((await send(c, secret, 'after the removal')).code, 'not_found');
  c.close();
});

test('a replay ends at the event that took its reader out', async () => {
  const owner = await user(first), guest = await user(first);
  const secret = await room(first, owner, 'private');
  await member(first, owner, secret, guest);
  const c = await connect(second, guest.key);
  const ack = await send(c, secret, 'before leaving');
  assert.equal(ack.type, 'ack');
  const left = await api(first, 'DELETE', `/room/${secret}/member`, { key: guest.key });
  assert.equal(left.status, 200, JSON.stringify(left.data));
  await member(first, owner, secret, guest); // back in: the old position replays the leave
  const later = await api(first, 'POST', `/room/${secret}/message/`, { body: { text: 'after' }, key: owner.key });
  assert.equal(later.status, 201);
  assert.equal((await subscribe(c, secret, ack.message.id)).type, 'subscribed');
  const revoked = await c.next((m) => m.type === 'unsubscribed' && m.room === secret, 'the revocation');
  assert.equal(revoked.reason, 'revoked');
  const replayed = c.messages.filter((m) => m.type === 'message' && m.room === secret);
  assert.equal(replayed.at(-1).id, left.data.eventId, 'the leave is the last event sent');
  assert.equal(replayed.at(-1).event, 'left');
  assert.ok(!replayed.some((m) => m.id === later.data.id), 'nothing after it');
  assert.equal((await subscribe(c, secret, left.data.eventId)).type, 'subscribed', 'resuming from there goes on');
  await c.next((m) => m.type === 'message' && m.id === later.data.id, 'the message after');
  c.close();
});

test('a banned user sends nothing over the WebSocket, as over POST', async () => {
  const owner = await user(first), rogue = await user(first);
  const open = await room(first, owner, 'public');
  const c = await connect(second, rogue.key);
  assert.equal((await send(c, open, 'before the ban')).type, 'ack');
  await member(first, owner, open, rogue, 'PUT', { userId: rogue.id, role: 'banned' });
  const refused = await send(c, open, 'after the ban');
  assert.deepEqual([refused.type, refused.code], ['error', 'banned']);
  const post = await api(second, 'POST', `/room/${open}/message/`, { body: { text: 'x' }, key: rogue.key });
  assert.equal(post.data.error.code, refused.code, 'the same code as POST');
  c.close();
});

// chat tail --ws (lib/tail_ws.c) ends with "not found" when the server
// ends its subscription, as chat tail does when its next stream is refused.
test('chat tail --ws stops when its user is removed from the private room', async () => {
  const owner = await user(first);
  const secret = await room(first, owner, 'private');
  const home = mkdtempSync(join(tmpdir(), 'ws-access-'));
  const email = `${unique('tail')}@example.com`;
  const env = { ...process.env, CHAT_SERVER: second, CHAT_SESSION_FILE: join(home, 'session'), CHAT_PASSWORD: PASSWORD };
  let tail;
  try {
    execFileSync(process.env.WS_CHAT_CLI, ['register', email, '--name', 'Tail'], { env, timeout: WAIT_MS });
    const { userId } = await member(first, owner, secret, { email });
    const sent = [];
    for (const text of ['one', 'two']) {
      const r = await api(first, 'POST', `/room/${secret}/message/`, { body: { text }, key: owner.key });
      assert.equal(r.status, 201);
      sent.push(r.data.id);
    }
    tail = spawn(process.env.WS_CHAT_CLI, ['tail', '--ws', '--room', secret, '--after', sent[0]], { env });
    let out = '', err = '', code = null;
    tail.stdout.on('data', (d) => { out += d; });
    tail.stderr.on('data', (d) => { err += d; });
    tail.on('exit', (c) => { code = c; });
    await until(() => out.includes('two') || code !== null, 'the tail to print the second message');
    assert.equal(code, null, `the tail runs (${err})`);
    await member(first, owner, secret, { id: userId }, 'DELETE');
    await until(() => code !== null, 'the tail to end');
    assert.notEqual(code, 0);
    assert.match(err, /access to the room ended/);
  } finally {
    if (tail && tail.exitCode === null) tail.kill();
    rmSync(home, { recursive: true, force: true });
  }
});

// The site administrator, registered by an earlier test or now.
async function adminUser() {
  const login = await api(first, 'PUT', '/user/', { body: { email: ADMIN_EMAIL, password: PASSWORD } });
  if (login.status !== 200) return user(first, ADMIN_EMAIL);
  const key = /authKey=([^;]+)/.exec(login.headers.get('set-cookie'))[1]; // a login sets the cookie only
  return { key, id: login.data.id, email: ADMIN_EMAIL };
}

// A session's end on one chatd (here a site administrator's lock) closes
// that session's WebSockets on another with 4001, whether the session came
// as a cookie or in the auth message; another user's connection goes on.
test('locking an account on one chatd closes its WebSockets on another with 4001', async (t) => {
  const admin = await adminUser(), locked = await user(first), bystander = await user(first);
  const byCookie = await connect(second, locked.key);
  const byMessage = new Client(second);
  await byMessage.open();
  byMessage.send({ type: 'auth', authKey: locked.key });
  await byMessage.next((m) => m.type === 'ready', 'ready after auth');
  const other = await connect(second, bystander.key);
  for (const c of [byCookie, byMessage, other]) assert.equal((await subscribe(c, 'lobby')).type, 'subscribed');
  const started = performance.now();
  const r = await api(first, 'PUT', `/user/${locked.id}/lock`, { key: admin.key });
  assert.equal(r.status, 204, JSON.stringify(r.data));
  const codes = await Promise.all([byCookie.closeCode(), byMessage.closeCode()]);
  t.diagnostic(`lock on chatd 1 to close on chatd 2: ${(performance.now() - started).toFixed(1)} ms`);
  assert.deepEqual(codes, [4001, 4001]);
  assert.equal(byCookie.closed.reason, 'session ended');
  assert.equal(other.closed, null, 'another user stays connected');
  assert.equal((await send(other, 'lobby', 'still here')).type, 'ack');
  other.close();
  assert.equal((await api(first, 'DELETE', `/user/${locked.id}/lock`, { key: admin.key })).status, 204);
});
