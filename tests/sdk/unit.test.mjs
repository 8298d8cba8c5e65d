// The client without a server: the event-stream parser fed in odd pieces,
// positions and ids, the session cookie, the retry rules, and streams driven
// by a fake fetch and a fake WebSocket (duplicates dropped, unknown kinds
// passed on, revocation), and sends over the fake WebSocket (acks, error
// frames, the fall back to POST).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ChatClient, ChatError, SseParser, compareIds, parsePosition, kindOf, newClientMsgId,
  sessionFromSetCookie, retryDelayMs, statusOfCode,
} from '../../web/clusterchat.js';

test('the event-stream parser takes events split anywhere', () => {
  const text = 'retry: 2000\n: connected\n\nid: a:0-0,b:1-1\n\nid: a:5-0,b:1-1\ndata: {"room":"a","id":"5-0"}\n\n' +
    ': ping\n\nevent: gap\ndata: {"room":"b","first":"3-0","trimmed":true}\n\nevent: typing\r\ndata: {"room":"a"}\r\n\r\n';
  for (const size of [1, 3, 7, text.length]) {
    const events = [];
    const p = new SseParser((e) => events.push(e));
    for (let i = 0; i < text.length; i += size) p.push(text.slice(i, i + size));
    assert.deepEqual(events, [
      { event: 'message', data: null, id: 'a:0-0,b:1-1' },
      { event: 'message', data: '{"room":"a","id":"5-0"}', id: 'a:5-0,b:1-1' },
      { event: 'gap', data: '{"room":"b","first":"3-0","trimmed":true}', id: null },
      { event: 'typing', data: '{"room":"a"}', id: null },
    ], `pieces of ${size}`);
  }
});

test('ids, positions, kinds and client message ids', () => {
  assert.ok(compareIds('10-0', '9-5') > 0);
  assert.ok(compareIds('9-10', '9-9') > 0);
  assert.equal(compareIds('7', '7-0'), 0);
  assert.ok(compareIds('1796648477333-0', '1796648477652-0') < 0);
  assert.deepEqual([...parsePosition('team-a:1-0,team-b:0-0')], [['team-a', '1-0'], ['team-b', '0-0']]);
  assert.equal(parsePosition('').size, 0);
  assert.equal(kindOf({ text: 'x' }), 'message');
  assert.equal(kindOf({ event: 'edited' }), 'edited');
  assert.equal(kindOf({ event: 'message_removed' }), 'removed');
  assert.equal(kindOf({ event: 'banned' }), 'member');
  assert.equal(kindOf({ event: 'reaction' }), 'reaction');
  const ids = new Set(Array.from({ length: 1000 }, newClientMsgId));
  assert.equal(ids.size, 1000);
  for (const id of ids) assert.match(id, /^[A-Za-z0-9._:-]{1,64}$/); // chatd's clientMsgId rule
});

test('the session token is taken from Set-Cookie, and its clearing too', () => {
  const key = 'A'.repeat(43);
  assert.equal(sessionFromSetCookie(`authKey=${key}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000`), key);
  assert.equal(sessionFromSetCookie(`__Host-authKey=${key}; Path=/; Secure`), key);
  assert.equal(sessionFromSetCookie('authKey=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0'), '');
  assert.equal(sessionFromSetCookie(`authKey=; Max-Age=0, __Host-authKey=${key}; Secure`), key);
  assert.equal(sessionFromSetCookie('other=1'), undefined);
  assert.equal(sessionFromSetCookie(null), undefined);
});

test('retry rules: backoff without an answer and for 502/503/504, Retry-After for 429/503', () => {
  const e = (status, retryAfter = 0) => new ChatError(status, 'x', 'x', { retryAfter });
  assert.equal(retryDelayMs(e(0), 0), 250);
  assert.equal(retryDelayMs(e(0), 2), 1000);
  assert.equal(retryDelayMs(e(0), 10), 5000);
  assert.equal(retryDelayMs(e(502), 0), 250);
  assert.equal(retryDelayMs(e(503, 1), 0), 1000);
  assert.equal(retryDelayMs(e(429, 7), 0), 7000);
  assert.equal(retryDelayMs(e(400), 0), -1);
  assert.equal(retryDelayMs(e(401), 0), -1);
  assert.equal(retryDelayMs(new Error('not ours'), 0), -1);
});

// A fetch that answers each request with the next of answers (a function
// of url and init): status, headers and a body of strings.
function fakeFetch(answers) {
  const calls = [];
  const f = async (url, init) => {
    calls.push({ url: String(url), init });
    const a = answers[Math.min(calls.length - 1, answers.length - 1)];
    const { status = 200, headers = {}, body = [] } = typeof a === 'function' ? a(url, init) : a;
    const parts = [...body];
    const stream = new ReadableStream({
      pull(controller) {
        if (parts.length) controller.enqueue(new TextEncoder().encode(parts.shift()));
        else if (!init.signal) controller.close();
        else init.signal.addEventListener('abort', () => controller.error(new Error('aborted')));
      },
    });
    return new Response(stream, { status, headers });
  };
  f.calls = calls;
  return f;
}

test('a send repeats after no answer and 503 with one clientMsgId; other errors are final', async () => {
  let n = 0;
  const fetch = async (url, init) => {
    n++;
    if (n === 1) throw new TypeError('fetch failed');
    if (n === 2) return new Response('{"error":{"code":"unavailable","message":"x"}}', { status: 503, headers: { 'Retry-After': '1' } });
    return new Response(JSON.stringify({ id: '5-0', text: JSON.parse(init.body).text }), { status: 201, headers: { 'Idempotent-Replayed': 'true' } });
  };
  const seen = [];
  const c = new ChatClient({ baseUrl: 'http://x', fetch, token: 'T'.repeat(43) });
  c.on('retry', (r) => seen.push([r.error.status, r.delayMs, r.clientMsgId]));
  const m = await c.send('lobby', 'hi', { clientMsgId: 'k1' });
  assert.deepEqual(m, { id: '5-0', text: 'hi', replayed: true });
  assert.deepEqual(seen, [[0, 250, 'k1'], [503, 1000, 'k1']]);
  const refused = new ChatClient({ baseUrl: 'http://x', fetch: fakeFetch([{ status: 400, headers: { 'X-Request-Id': 'r-1' }, body: ['{"error":{"code":"invalid_text","message":"no"}}'] }]) });
  await assert.rejects(refused.send('lobby', ' '), (e) => e.code === 'invalid_text' && e.status === 400 && e.requestId === 'r-1');
});

test('an event stream over fetch: live on its position, duplicates dropped, unknown kinds passed on', async () => {
  const body = [
    'retry: 2000\n: connected\n\nid: a:2-0,b:0-0\n\n',
    'id: a:3-0,b:0-0\ndata: {"room":"a","id":"3-0","text":"one"}\n\n',
    'id: a:3-0,b:0-0\ndata: {"room":"a","id":"3-0","text":"one again"}\n\n', // a duplicate
    'id: a:3-0,b:4-0\ndata: {"room":"b","id":"4-0","text":"x","event":"reaction","target":"1-0","role":""}\n\n',
    'event: presence\ndata: {"userId":"u1","online":true}\n\n',
  ];
  const fetch = fakeFetch([{ headers: { 'Content-Type': 'text/event-stream' }, body }]);
  const s = new ChatClient({ baseUrl: 'http://x', fetch }).stream({ rooms: ['a', 'b'], positions: { a: '2-0' } });
  const got = [];
  s.on('event', (e) => got.push([e.kind, e.room, e.data.text || e.data.userId]));
  await s.once('live');
  await new Promise((resolve) => { s.on('presence', resolve); });
  s.close();
  assert.equal(fetch.calls[0].url, 'http://x/stream?rooms=a%2Cb&after=a%3A2-0');
  assert.deepEqual(got, [['message', 'a', 'one'], ['reaction', 'b', 'x'], ['presence', undefined, 'u1']]);
  assert.deepEqual(s.positions, { a: '3-0', b: '4-0' });
});

// A WebSocket that records what the client sends; the test plays the server.
// FakeSocket.opened resolves with the next one once the client had its open.
class FakeSocket {
  static #waiting = [];
  static get opened() { return new Promise((resolve) => FakeSocket.#waiting.push(resolve)); }
  constructor(url) {
    this.url = url;
    this.sent = [];
    this.readyState = 0;
    setTimeout(() => {
      this.readyState = 1;
      this.onopen({});
      FakeSocket.#waiting.splice(0).forEach((resolve) => resolve(this));
    });
  }
  send(text) { this.sent.push(JSON.parse(text)); }
  close() { this.readyState = 3; }
  serve(m) { this.onmessage({ data: JSON.stringify(m) }); }
}

test('a WebSocket stream: auth, subscriptions from positions, revocation, unknown types', async () => {
  const c = new ChatClient({ baseUrl: 'https://chat.example', fetch: fakeFetch([{}]), WebSocket: FakeSocket, token: 'K'.repeat(43) });
  c.user = { id: 'me' };
  const opened = FakeSocket.opened;
  const s = c.stream({ rooms: ['a', 'p'], positions: { a: '7-0' } });
  const got = [];
  s.on('event', (e) => got.push([e.kind, e.room, e.data.id || e.data.type]));
  const ws = await opened;
  assert.equal(ws.url, 'wss://chat.example/ws');
  assert.deepEqual(ws.sent, [{ type: 'auth', authKey: 'K'.repeat(43) }]);
  ws.serve({ type: 'ready', user: { id: 'me', name: 'Me' } });
  assert.deepEqual(ws.sent.slice(1), [{ type: 'subscribe', room: 'a', after: '7-0' }, { type: 'subscribe', room: 'p' }]);
  const live = s.once('live');
  ws.serve({ type: 'subscribed', room: 'a', id: '7-0' });
  ws.serve({ type: 'subscribed', room: 'p', id: '9-0' });
  await live;
  ws.serve({ type: 'message', room: 'a', id: '7-0', text: 'old' }); // delivered before: dropped
  ws.serve({ type: 'message', room: 'a', id: '8-0', text: 'new' });
  ws.serve({ type: 'typing', room: 'a', userId: 'u2' });
  ws.serve({ type: 'message', room: 'p', id: '10-0', userId: 'o', event: 'removed', target: 'me', role: '' });
  const gone = s.once('unsubscribed');
  ws.serve({ type: 'unsubscribed', room: 'p', reason: 'revoked' });
  assert.deepEqual(await gone, { room: 'p', reason: 'revoked' });
  assert.deepEqual(got, [['message', 'a', '8-0'], ['typing', 'a', 'typing'], ['member', 'p', '10-0']]);
  assert.deepEqual(s.rooms, ['a']);
  assert.deepEqual(s.positions, { a: '8-0', p: '10-0' });
  s.close();
});

test('a stream takes at most 32 rooms', () => {
  const c = new ChatClient({ baseUrl: 'http://x', fetch: fakeFetch([{}]) });
  const rooms = Array.from({ length: 33 }, (_, i) => `r${i}`);
  assert.throws(() => c.stream({ rooms }), RangeError);
  const s = c.stream({ rooms: rooms.slice(0, 32) });
  assert.throws(() => s.add('r32'), RangeError);
  s.close();
});

test('the WebSocket goes to baseUrl\'s path, and a removed room delivers nothing more', async () => {
  const c = new ChatClient({ baseUrl: 'http://chat.example/api/', fetch: fakeFetch([{}]), WebSocket: FakeSocket, token: 'K'.repeat(43) });
  const opened = FakeSocket.opened;
  const s = c.stream({ rooms: ['a', 'b'] });
  const got = [];
  s.on('message', (m) => got.push(`${m.room} ${m.id}`));
  const ws = await opened;
  assert.equal(ws.url, 'ws://chat.example/api/ws');
  ws.serve({ type: 'ready', user: { id: 'me', name: 'Me' } });
  ws.serve({ type: 'subscribed', room: 'a', id: '1-0' });
  ws.serve({ type: 'subscribed', room: 'b', id: '1-0' });
  s.remove('b');
  assert.deepEqual(ws.sent.at(-1), { type: 'unsubscribe', room: 'b' });
  ws.serve({ type: 'message', room: 'b', id: '2-0', text: 'late' });
  ws.serve({ type: 'message', room: 'a', id: '2-0', text: 'kept' });
  assert.deepEqual(got, ['a 2-0']);
  s.close();
});

// ---- sends over the stream's WebSocket ----

// Resolves with the n-th `send` frame ws got (1 for the first), polling
// the event loop; rejects after 5 s.
async function sendFrame(ws, n = 1) {
  const end = Date.now() + 5000;
  for (;;) {
    const frames = ws.sent.filter((f) => f.type === 'send');
    if (frames.length >= n) return frames[n - 1];
    if (Date.now() > end) throw new Error(`timed out waiting for send frame ${n}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

// A client with a ready WebSocket stream, and a fetch that answers every
// POST with 201 (the message, replayed) and records it.
async function readySocketClient(options = {}) {
  const posts = [];
  const fetch = async (url, init) => {
    const body = JSON.parse(init.body);
    posts.push({ url: String(url), body });
    return new Response(JSON.stringify({ id: '9-0', text: body.text }), { status: 201, headers: { 'Idempotent-Replayed': 'true' } });
  };
  const c = new ChatClient({ baseUrl: 'http://x', fetch, WebSocket: FakeSocket, token: 'K'.repeat(43), ...options });
  const opened = FakeSocket.opened;
  const s = c.stream({ rooms: ['a'] });
  const ws = await opened;
  ws.serve({ type: 'ready', user: { id: 'me', name: 'Me' } });
  return { c, s, ws, posts };
}

test('error codes map to the status their REST answer has', () => {
  assert.equal(statusOfCode('rate_limited'), 429);
  assert.equal(statusOfCode('banned'), 403);
  assert.equal(statusOfCode('not_found'), 404);
  assert.equal(statusOfCode('unavailable'), 503);
  assert.equal(statusOfCode('unauthorized'), 401);
  assert.equal(statusOfCode('a_new_code'), 400);
  assert.equal(statusOfCode('toString'), 400);
});

test('a send goes over the ready WebSocket: the ack answers it, an error frame rejects it', async () => {
  const { c, s, ws, posts } = await readySocketClient();
  const streamErrors = [];
  s.on('error', (e) => streamErrors.push(e));
  const sent = c.send('a', 'hi', { replyTo: '1-0' });
  const frame = await sendFrame(ws);
  assert.deepEqual(frame, { type: 'send', room: 'a', text: 'hi', clientMsgId: frame.clientMsgId, replyTo: '1-0' });
  assert.match(frame.clientMsgId, /^js-[0-9a-f]{24}$/);
  ws.serve({ type: 'ack', clientMsgId: 'someone-else', replayed: false, message: { id: '1-1' } }); // not ours
  ws.serve({ type: 'ack', clientMsgId: frame.clientMsgId, replayed: false, message: { id: '2-0', text: 'hi' } });
  assert.deepEqual(await sent, { id: '2-0', text: 'hi', replayed: false });

  const refused = c.send('a', 'no');
  const second = await sendFrame(ws, 2);
  ws.serve({ type: 'error', code: 'banned', message: 'You are banned from this room.', clientMsgId: second.clientMsgId, room: 'a' });
  await assert.rejects(refused, (e) => e instanceof ChatError && e.status === 403 && e.code === 'banned' &&
    e.message === 'You are banned from this room.');
  // a refusal of the send's members names no clientMsgId: it is the send's on its way
  const blank = c.send('a', ' ');
  await sendFrame(ws, 3);
  ws.serve({ type: 'error', code: 'invalid_room', message: 'a subscription\'s' }); // not a send's
  ws.serve({ type: 'error', code: 'invalid_text', message: 'The text must be…' });
  await assert.rejects(blank, (e) => e.status === 400 && e.code === 'invalid_text');
  assert.deepEqual(posts, [], 'nothing went by POST');
  assert.deepEqual(streamErrors.map((e) => e.code), ['invalid_room'], 'a send\'s error is the send\'s, not the stream\'s');
  s.close();
});

test('what a socket cannot carry goes by POST: a room name chatd refuses, a text over its message limit', async () => {
  const { c, s, ws, posts } = await readySocketClient();
  await c.send('No Such Room', 'x');
  await c.send('a', 'é'.repeat(16384)); // 32768 bytes of text, more with the frame around it
  assert.deepEqual(posts.map((p) => p.url), ['http://x/room/No%20Such%20Room/message/', 'http://x/room/a/message/']);
  assert.equal(ws.sent.filter((f) => f.type === 'send').length, 0);
  s.close();
});

test('a socket that closes before the ack, or a late ack, sends by POST with the same clientMsgId', async () => {
  const { c, s, ws, posts } = await readySocketClient({ sendTimeoutMs: 50 });
  const cut = c.send('a', 'cut');
  const frame = await sendFrame(ws);
  ws.readyState = 3;
  ws.onclose({ code: 1006 });
  assert.deepEqual(await cut, { id: '9-0', text: 'cut', replayed: true });
  assert.equal(posts.length, 1);
  assert.equal(posts[0].url, 'http://x/room/a/message/');
  assert.deepEqual(posts[0].body, { text: 'cut', clientMsgId: frame.clientMsgId });
  s.close();

  const again = await readySocketClient({ sendTimeoutMs: 50 });
  const late = again.c.send('a', 'late');
  const lateFrame = await sendFrame(again.ws);
  assert.equal((await late).replayed, true);
  assert.deepEqual(again.posts.map((p) => p.body), [{ text: 'late', clientMsgId: lateFrame.clientMsgId }]);
  await again.c.send('a', 'while late'); // that socket carries no more sends
  assert.equal(again.posts.length, 2);
  assert.equal(again.ws.sent.filter((f) => f.type === 'send').length, 1);
  again.ws.serve({ type: 'ack', clientMsgId: lateFrame.clientMsgId, replayed: false, message: { id: '9-0' } });
  const caughtUp = again.c.send('a', 'caught up'); // until the late answer came
  const next = await sendFrame(again.ws, 2);
  again.ws.serve({ type: 'ack', clientMsgId: next.clientMsgId, replayed: false, message: { id: '10-0' } });
  assert.equal((await caughtUp).id, '10-0');
  assert.equal(again.posts.length, 2);
  again.s.close();
});

test('a browser that says it is offline sends by POST', async () => {
  const { c, s, ws, posts } = await readySocketClient();
  globalThis.navigator = { onLine: false };
  try {
    await c.send('a', 'offline');
  } finally {
    delete globalThis.navigator;
  }
  assert.equal(posts.length, 1);
  assert.equal(ws.sent.filter((f) => f.type === 'send').length, 0);
  s.close();
});

test('sendTransport "post" keeps sends off the WebSocket, and a stream closed takes its socket back', async () => {
  const { c, s, ws, posts } = await readySocketClient({ sendTransport: 'post' });
  await c.send('a', 'by post');
  assert.equal(posts.length, 1);
  c.sendTransport = 'auto';
  s.close();
  await c.send('a', 'no socket left');
  assert.equal(posts.length, 2);
  assert.equal(ws.sent.filter((f) => f.type === 'send').length, 0);
});

test('a rate-limited send over the WebSocket waits its retryAfter and goes again with its clientMsgId', async () => {
  const { c, s, ws, posts } = await readySocketClient();
  const retries = [];
  c.on('retry', (r) => retries.push(r));
  const t0 = Date.now();
  const sent = c.send('a', 'slowly');
  const first = await sendFrame(ws);
  ws.serve({ type: 'error', code: 'rate_limited', message: 'Too many requests.', clientMsgId: first.clientMsgId, room: 'a', retryAfter: 1 });
  const second = await sendFrame(ws, 2);
  assert.ok(Date.now() - t0 >= 1000, 'not before retryAfter');
  assert.equal(second.clientMsgId, first.clientMsgId);
  ws.serve({ type: 'ack', clientMsgId: first.clientMsgId, replayed: false, message: { id: '3-0', text: 'slowly' } });
  assert.equal((await sent).id, '3-0');
  assert.equal(retries.length, 1);
  assert.equal(retries[0].via, 'ws');
  assert.equal(retries[0].clientMsgId, first.clientMsgId);
  assert.equal(retries[0].error.status, 429);
  assert.equal(retries[0].error.retryAfter, 1);
  assert.equal(retries[0].delayMs, 1000);
  assert.deepEqual(posts, []);

  c.retryBudgetMs = 0; // beyond the budget: the ChatError
  const over = c.send('a', 'too fast');
  const third = await sendFrame(ws, 3);
  ws.serve({ type: 'error', code: 'rate_limited', message: 'Too many requests.', clientMsgId: third.clientMsgId, retryAfter: 2 });
  await assert.rejects(over, (e) => e.status === 429 && e.code === 'rate_limited' && e.retryAfter === 2);
  s.close();
});
