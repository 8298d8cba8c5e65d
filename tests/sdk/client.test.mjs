// The client against a real chatd and Redis (run.sh): accounts and the token
// exchange, rooms and members, sends with forced retries stored once,
// history pages, edits and deletions, both transports delivering every kind
// of event, the gap signal, and errors as ChatError with code, status and
// Retry-After.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { ChatClient, ChatError } from '../../web/clusterchat.js';
import {
  URL_A, PASSWORD, client, newUser, unique, next, until, whenLive, relay, startChatd, mintToken, keep,
  refusedOverLimit,
} from './lib.mjs';

test('register, log in, who am I and log out keep the session from Set-Cookie', async () => {
  const a = await newUser(URL_A, { name: 'Ann' });
  assert.match(a.token, /^[A-Za-z0-9_-]{43}$/);
  assert.equal((await a.me()).name, 'Ann');
  const again = client();
  const user = await again.login({ email: a.email, password: PASSWORD });
  assert.equal(user.id, a.user.id);
  assert.notEqual(again.token, a.token); // a session of its own
  await again.logout();
  assert.equal(again.token, null);
  const stale = client(URL_A, { token: a.token });
  assert.equal((await stale.me()).id, a.user.id); // the first session lives on
  await assert.rejects(again.me(), (e) => e instanceof ChatError && e.status === 401 && e.code === 'unauthorized');
  await assert.rejects(client().login({ email: a.email, password: 'wrong password' }),
    (e) => e.status === 401 && e.code === 'invalid_credentials');
});

test('the application\'s token is exchanged for a session (POST /user/token)', async () => {
  const c = client();
  const sub = unique('app-user');
  const user = await c.loginWithToken(mintToken({ sub, name: 'App User' }));
  assert.equal(user.name, 'App User');
  assert.equal(user.email, '');
  assert.ok(user.expires > Date.now());
  assert.ok(c.token);
  const room = unique('tok');
  await c.createRoom(room);
  const sent = await c.send(room, 'from a token user');
  assert.equal(sent.userId, user.id);
  await assert.rejects(client().loginWithToken(mintToken({ sub }).slice(0, -2) + 'xx'),
    (e) => e.status === 401 && e.code === 'invalid_token' && /signature/.test(e.message));
});

test('rooms: public and private, listing, members, invite, roles, ban, leave, direct', async () => {
  const owner = await newUser(URL_A, { name: 'Olga' });
  const bob = await newUser(URL_A, { name: 'Bob' });
  const pub = unique('pub');
  const priv = unique('priv');
  assert.deepEqual(await owner.createRoom(pub), { name: pub, kind: 'public', role: 'owner', created: true });
  assert.equal((await owner.createRoom(pub)).created, false);
  await owner.createRoom(priv, { kind: 'private' });
  const listed = await owner.allRooms();
  assert.ok(listed.some((r) => r.name === priv && r.kind === 'private' && r.role === 'owner'));
  assert.ok(!(await bob.allRooms()).some((r) => r.name === priv));
  await assert.rejects(bob.history(priv), (e) => e.status === 404 && e.code === 'not_found');

  assert.equal((await bob.join(pub)).role, 'member');
  assert.equal((await owner.invite(priv, bob.email)).role, 'member');
  assert.ok((await bob.allRooms()).some((r) => r.name === priv && r.role === 'member'));
  assert.equal((await owner.setRole(priv, bob.user.id, 'moderator')).role, 'moderator');
  const members = await bob.members(priv);
  assert.deepEqual(members.map((m) => [m.name, m.role]).sort(), [['Bob', 'moderator'], ['Olga', 'owner']]);
  await assert.rejects(owner.leave(priv), (e) => e.status === 409 && e.code === 'last_owner');
  assert.equal((await bob.leave(priv)).role, '');
  assert.equal((await owner.ban(pub, { userId: bob.user.id })).role, 'banned');
  await assert.rejects(bob.send(pub, 'let me in'), (e) => e.status === 403 && e.code === 'banned');
  assert.equal((await owner.unban(pub, bob.user.id)).role, '');
  const dm = await bob.directRoom(owner.email);
  assert.equal(dm.kind, 'direct');
  assert.equal(dm.with, owner.user.id);
  assert.equal((await owner.directRoom(bob.user.id)).name, dm.name);
  await owner.send(dm.name, 'hi Bob');
  assert.deepEqual((await bob.newest(dm.name)).messages.map((m) => m.text), ['hi Bob']);
});

test('a send with replyTo answers a message of the room', async () => {
  const c = await newUser();
  const room = unique('reply');
  await c.createRoom(room);
  const question = await c.send(room, 'a question');
  const answer = await c.send(room, 'the answer', { replyTo: question.id });
  assert.equal(answer.replyTo.id, question.id);
  assert.equal(answer.replyTo.text, 'a question');
  await assert.rejects(c.send(room, 'to nothing', { replyTo: '1-0' }),
    (e) => e.status === 404 && e.code === 'reply_not_found');
});

test('sends keep their order and history pages go back with before', async () => {
  const c = await newUser();
  const room = unique('hist');
  await c.createRoom(room);
  const texts = Array.from({ length: 12 }, (_, i) => `m${i}`);
  const sent = await Promise.all(texts.map((t) => c.send(room, t))); // queued at once, sent in order
  assert.deepEqual(sent.map((m) => m.text), texts);
  for (let i = 1; i < sent.length; i++) assert.ok(sent[i].id > sent[i - 1].id || sent[i].id.length > sent[i - 1].id.length);
  const newest = await c.newest(room, 5);
  assert.deepEqual(newest.messages.map((m) => m.text), texts.slice(7));
  assert.equal(newest.nextBefore, sent[7].id);
  const older = await c.history(room, { before: newest.nextBefore, limit: 5 });
  assert.deepEqual(older.messages.map((m) => m.text), texts.slice(2, 7));
  const first = await c.history(room, { before: older.nextBefore, limit: 5 });
  assert.deepEqual(first.messages.map((m) => m.text), texts.slice(0, 2));
  assert.equal(first.nextBefore, null);
  const forward = await c.history(room, { after: sent[9].id });
  assert.deepEqual(forward.messages.map((m) => m.text), ['m10', 'm11']);
  assert.equal(forward.nextAfter, sent[11].id);
  assert.equal(forward.gap, null);
});

test('a send whose answer is lost is sent again with its clientMsgId and stored once', async () => {
  const r = await relay(new URL(URL_A).port);
  try {
    const c = await newUser(r.url);
    const room = unique('lost');
    await c.createRoom(room);
    const retries = [];
    c.on('retry', (info) => retries.push(info));
    r.dropAnswers(1);
    const m = await c.send(room, 'exactly once');
    assert.equal(r.dropped, 1);
    assert.equal(retries.length, 1);
    assert.equal(retries[0].error.code, 'offline');
    assert.equal(m.replayed, true); // the first attempt had stored it
    const { messages } = await c.newest(room);
    assert.deepEqual(messages.map((x) => [x.id, x.text]), [[m.id, 'exactly once']]);
  } finally {
    await r.close();
  }
});

test('a 503 while Redis is stopped is waited out and the message stored once', async () => {
  const d = await startChatd(['--redis-timeout', '300']);
  const redisPid = Number(process.env.SDK_REDIS_PID);
  let stopped = false;
  // The first send stops Redis on its way; its 503 answer lets Redis go on.
  const fetchWithStop = async (url, init) => {
    const stop = !stopped && init && init.method === 'POST' && String(url).includes('/message/');
    if (stop) { stopped = true; process.kill(redisPid, 'SIGSTOP'); }
    try {
      return await fetch(url, init);
    } finally {
      if (stop) process.kill(redisPid, 'SIGCONT');
    }
  };
  const c = new ChatClient({ baseUrl: d.url, fetch: fetchWithStop });
  await c.register({ email: `${unique('stop')}@example.com`, password: PASSWORD });
  const room = unique('stop');
  await c.createRoom(room);
  const retries = [];
  c.on('retry', (info) => retries.push(info));
  const m = await c.send(room, 'through a stop');
  assert.ok(retries.length >= 1);
  assert.equal(retries[0].error.status, 503);
  assert.equal(retries[0].error.code, 'unavailable');
  assert.equal(retries[0].error.retryAfter, 1);
  assert.ok(retries[0].delayMs >= 1000, 'Retry-After is honoured');
  const { messages } = await c.newest(room);
  assert.deepEqual(messages.map((x) => [x.id, x.text]), [[m.id, 'through a stop']]);
  console.log(`# 503 then stored: replayed=${m.replayed}`);
});

test('429 with Retry-After: waited out within the budget, a ChatError beyond it', async () => {
  const d = await startChatd([], { CHATD_LIMIT_MESSAGES_USER: '2/2' });
  const c = await newUser(d.url);
  const room = unique('limit');
  await c.createRoom(room);
  const retries = [];
  c.on('retry', (info) => retries.push(info));
  const t0 = Date.now();
  const sent = await Promise.all(['a', 'b', 'c'].map((t) => c.send(room, t)));
  assert.deepEqual(sent.map((m) => m.text), ['a', 'b', 'c']);
  assert.ok(retries.length >= 1 && retries.every((x) => x.error.status === 429 && x.error.retryAfter >= 1));
  console.log(`# three sends over a 2/2 s limit took ${Date.now() - t0} ms, ${retries.length} retry`);
  for (const e of await refusedOverLimit(c, room)) assert.ok(e.requestId);
});

test('edits, deletions and errors as ChatError', async () => {
  const a = await newUser();
  const b = await newUser();
  const room = unique('edit');
  await a.createRoom(room);
  const m = await a.send(room, 'first words');
  const edit = await a.editMessage(room, m.id, 'better words');
  assert.equal(edit.id, m.id);
  assert.equal((await a.newest(room)).messages[0].text, 'better words');
  await assert.rejects(b.editMessage(room, m.id, 'mine now'), (e) => e.status === 403 && e.code === 'forbidden');
  const del = await a.deleteMessage(room, m.id);
  assert.equal(del.id, m.id);
  await assert.rejects(a.deleteMessage(room, m.id), (e) => e.status === 404 && e.code === 'not_found');
  await assert.rejects(a.send('No Such Room', 'x'), (e) => e.status === 400 && e.code === 'invalid_room');
  await assert.rejects(a.send(unique('never'), 'x'), (e) => e.status === 404 && e.code === 'not_found');
  await assert.rejects(a.send(room, ' '), (e) => e.status === 400 && e.code === 'invalid_text');
  await assert.rejects(client('http://127.0.0.1:1', { retryBudgetMs: 0 }).me(),
    (e) => e instanceof ChatError && e.status === 0 && e.code === 'offline');
});

// Sends one of every stored kind to room and waits for them on stream.
async function everyKind(stream, sender, member, room) {
  const seen = [];
  stream.on('event', (e) => seen.push([e.kind, e.data.event || '', e.data.text]));
  const m = await sender.send(room, 'hello');
  await sender.editMessage(room, m.id, 'hello again');
  await member.join(room);
  await sender.deleteMessage(room, m.id);
  await until(() => seen.length >= 4, 'four events');
  return seen;
}

for (const transport of ['ws', 'sse']) {
  test(`${transport}: messages, edits, removals and member events arrive typed and in order`, async () => {
    const a = await newUser();
    const b = await newUser(URL_A, { name: 'Bea' });
    const room = unique(transport);
    await a.createRoom(room);
    const s = keep(a.stream({ rooms: [room], transport }));
    const typed = { message: 0, edited: 0, member: 0, removed: 0 };
    for (const kind of Object.keys(typed)) s.on(kind, () => typed[kind]++);
    const live = await next(s, 'live');
    assert.equal(live.transport, transport);
    const seen = await everyKind(s, a, b, room);
    assert.deepEqual(seen, [
      ['message', '', 'hello'], ['edited', 'edited', 'hello again'], ['member', 'joined', 'Bea'],
      ['removed', 'message_removed', 'deleted by its author'],
    ]);
    assert.deepEqual(typed, { message: 1, edited: 1, member: 1, removed: 1 });
    s.close();
  });
}

for (const transport of ['ws', 'sse']) {
  test(`${transport}: signals and user streams carry presence, typing and read markers`, async () => {
    const a = await newUser();
    const b = await newUser(URL_A, { name: 'Bea' });
    const room = unique('sig');
    await a.createRoom(room);
    await b.join(room);
    const first = await a.send(room, 'read me');
    const s = keep(a.stream({ rooms: [room], transport, signals: true, user: true }));
    await next(s, 'live');
    const online = next(s, 'presence', (p) => (p.joined || []).some((u) => u.userId === b.user.id));
    const other = keep(b.stream({ rooms: [room], transport }));
    await next(other, 'live');
    assert.equal((await online).room, room);
    const typing = next(s, 'typing', (t) => t.userId === b.user.id);
    await b.request('POST', `/room/${room}/typing`, { body: {} });
    const t = await typing;
    assert.deepEqual([t.room, t.name], [room, 'Bea']);
    const marker = next(s, 'marker');
    await a.request('PUT', `/room/${room}/read`, { body: { id: first.id } });
    const k = await marker;
    assert.deepEqual([k.room, k.id], [room, first.id]);
    const entry = next(s, 'entry');
    const m = await b.send(room, 'a stored entry');
    const e = await entry;
    assert.deepEqual([e.kind, e.room, e.data.id], ['message', room, m.id]);
    other.close();
    s.close();
  });
}

test('anonymous streams use the event stream; a WebSocket that never opens falls back to it', async () => {
  const a = await newUser();
  const room = unique('anon');
  await a.createRoom(room);
  const anon = client();
  const s1 = keep(anon.stream({ rooms: [room] }));
  assert.equal(s1.transport, 'sse');
  class Unreachable { // closes before it was ever ready, as behind a proxy without WebSocket
    constructor() { this.readyState = 0; setTimeout(() => { this.readyState = 3; this.onclose({ code: 1006 }); }, 5); }
    send() {}
    close() {}
  }
  const s2 = keep(new ChatClient({ baseUrl: URL_A, WebSocket: Unreachable, token: a.token }).stream({ rooms: [room] }));
  assert.equal(s2.transport, 'ws');
  await next(s2, 'fallback');
  assert.equal(s2.transport, 'sse');
  await Promise.all([whenLive(s1), whenLive(s2)]);
  const got = Promise.all([next(s1, 'message'), next(s2, 'message')]);
  const m = await a.send(room, 'to both');
  for (const x of await got) assert.equal(x.id, m.id);
  s1.close();
  s2.close();
});

test('a private room\'s stream ends for a removed member: unsubscribed, then the other rooms go on', async () => {
  for (const transport of ['ws', 'sse']) {
    const owner = await newUser();
    const bob = await newUser();
    const priv = unique('rev');
    const pub = unique('pub');
    await owner.createRoom(priv, { kind: 'private' });
    await owner.createRoom(pub);
    await owner.invite(priv, bob.user.id);
    const s = keep(bob.stream({ rooms: [priv, pub], transport }));
    await next(s, 'live');
    const gone = next(s, 'unsubscribed');
    await owner.removeMember(priv, bob.user.id);
    assert.deepEqual(await gone, { room: priv, reason: 'revoked' });
    assert.deepEqual(s.rooms, [pub]);
    if (transport === 'sse') await next(s, 'live'); // the stream again, without the room
    const got = next(s, 'message');
    const m = await owner.send(pub, 'still here');
    assert.equal((await got).id, m.id);
    s.close();
  }
});

test('kinds the client does not know pass through untouched', async () => {
  const a = await newUser();
  const room = unique('kinds');
  await a.createRoom(room);
  for (const transport of ['ws', 'sse']) {
    const s = keep(a.stream({ rooms: [room], transport }));
    await next(s, 'live');
    const got = next(s, 'reaction');
    const all = next(s, 'event', (e) => e.kind === 'reaction');
    // an entry of a newer server's kind, written into the room's stream by hand
    execFileSync('redis-cli', ['-p', process.env.SDK_REDIS_PORT, 'XADD', `room:{${room}}:messages`, '*',
      'userId', a.user.id, 'name', 'x', 'text', '👍', 'timestamp', String(Date.now()),
      'event', 'reaction', 'target', '1-1', 'role', '']);
    execFileSync('redis-cli', ['-p', process.env.SDK_REDIS_PORT, 'SPUBLISH', `room:{${room}}:doorbell`, '']);
    const r = await got;
    assert.equal(r.event, 'reaction');
    assert.equal(r.text, '👍');
    assert.equal((await all).room, room);
    s.close();
  }
});

test('the gap signal: history and both transports say which messages are gone', async () => {
  const a = await newUser();
  const room = unique('gap');
  await a.createRoom(room);
  const redis = (...args) => execFileSync('redis-cli', ['-p', process.env.SDK_REDIS_PORT, ...args]);
  // The room keeps about 4 messages, trimmed by whole nodes of 4 entries.
  redis('CONFIG', 'SET', 'stream-node-max-entries', '4');
  redis('HSET', `room:{${room}}:retention`, 'maxMessages', '4', 'maxAge', '0');
  const first = await a.send(room, 'soon gone');
  try {
    for (let i = 0; i < 20; i++) await a.send(room, `m${i}`);
  } finally {
    redis('CONFIG', 'SET', 'stream-node-max-entries', '100'); // Redis's default, for the other tests
  }
  const page = await a.history(room, { after: first.id });
  assert.ok(page.gap, 'X-History-Gap');
  assert.equal(page.messages[0].id, page.gap);
  for (const transport of ['ws', 'sse']) {
    const s = keep(a.stream({ rooms: [room], positions: { [room]: first.id }, transport }));
    const seen = [];
    s.on('event', (e) => seen.push(e.kind === 'gap' ? `gap ${e.data.first}` : e.data.id));
    await until(() => seen.length >= 1 + page.messages.length, `the gap and ${page.messages.length} messages`);
    s.close();
    assert.deepEqual(seen, [`gap ${page.gap}`, ...page.messages.map((m) => m.id)], transport);
  }
});
