// GET /ws end to end with npm's ws client: the upgrade's answers, both ways
// to authenticate, subscribe, sends with acks and idempotent resends, the
// RFC 6455 close codes for frames chatd refuses, pings, the drain on
// SIGTERM and a resume after kill -9 of the chatd that held the socket, on
// a chatd directly and through HAProxy (HTTP and HTTPS). The tests run in
// order: the last two stop chatd 3, then the one holding a socket.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import http2 from 'node:http2';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CHATD_URLS, CHATD_PIDS, LB_STATS, LB_URL, TLS_URL, Client, RawClient, api, closeAll, connect, createRoom, frame,
  register, until, WAIT_MS,
} from './lib.mjs';

const direct = CHATD_URLS[0];
const ca = process.env.NODE_EXTRA_CA_CERTS ? readFileSync(process.env.NODE_EXTRA_CA_CERTS) : undefined;

// A GET /ws with the given headers over plain HTTP: {status, headers, body}.
function upgradeRequest(base, headers) {
  return new Promise((resolve, reject) => {
    const req = request(base + '/ws', { headers });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: JSON.parse(body) }));
    });
    req.on('upgrade', (res, sock) => { sock.destroy(); resolve({ status: res.statusCode, headers: res.headers }); });
    req.on('error', reject);
    req.end();
  });
}

after(closeAll);

const UPGRADE = { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Version': '13',
  'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' };

test('the upgrade is checked and answered with JSON errors', async () => {
  let r = await upgradeRequest(direct, {});
  assert.equal(r.status, 426);
  assert.equal(r.body.error.code, 'upgrade_required');
  r = await upgradeRequest(direct, { ...UPGRADE, 'Sec-WebSocket-Version': '8' });
  assert.equal(r.status, 426);
  assert.equal(r.headers['sec-websocket-version'], '13');
  assert.equal(r.body.error.code, 'unsupported_websocket_version');
  r = await upgradeRequest(direct, { ...UPGRADE, 'Sec-WebSocket-Key': 'short' });
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, 'invalid_websocket_key');
  r = await upgradeRequest(direct, { ...UPGRADE, Origin: 'http://evil.example' });
  assert.equal(r.status, 403);
  assert.equal(r.body.error.code, 'cross_origin');
  r = await upgradeRequest(direct, { ...UPGRADE, Cookie: `authKey=${'x'.repeat(43)}` });
  assert.equal(r.status, 401);
  assert.equal(r.body.error.code, 'unauthorized');
  for (const offered of [{ Cookie: 'authKey=bogus' }, { Authorization: 'Bearer bogus' }]) {
    r = await upgradeRequest(direct, { ...UPGRADE, ...offered }); // malformed: as on every route
    assert.equal(r.status, 401, JSON.stringify(offered));
    assert.equal(r.body.error.code, 'unauthorized');
  }
  r = await upgradeRequest(direct, UPGRADE); // the RFC's example key
  assert.equal(r.status, 101);
  assert.equal(r.headers['sec-websocket-accept'], 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
});

test('a client authenticates with its first message, or is closed with 4001', async () => {
  const key = await register(direct);
  const good = new Client(direct);
  await good.open();
  good.send({ type: 'auth', authKey: key });
  good.send({ type: 'subscribe', room: 'lobby' }); // waits for the session read
  await good.next((m) => m.type === 'ready', 'ready');
  await good.next((m) => m.type === 'subscribed' && m.room === 'lobby', 'subscribed');
  good.close();
  const wrong = new Client(direct);
  await wrong.open();
  wrong.send({ type: 'auth', authKey: 'A'.repeat(43) });
  assert.equal(await wrong.closeCode(), 4001);
  const none = new Client(direct);
  await none.open();
  none.send({ type: 'subscribe', room: 'lobby' });
  assert.equal(await none.closeCode(), 4001);
});

// Subscribe, send twice with one clientMsgId, and an unknown room.
async function sendAndAck(base, opts = {}) {
  const key = await register(base);
  const room = await createRoom(base, key, 'acks');
  const c = new Client(base, { cookie: key, ca: opts.ca });
  await c.open();
  await c.next((m) => m.type === 'ready', 'ready');
  c.send({ type: 'subscribe', room });
  const sub = await c.next((m) => m.type === 'subscribed', 'subscribed');
  assert.equal(sub.room, room);
  c.send({ type: 'send', room, text: 'hello over a websocket', clientMsgId: 'm-1' });
  const ack = await c.next((m) => m.type === 'ack', 'the ack');
  assert.equal(ack.clientMsgId, 'm-1');
  assert.equal(ack.replayed, false);
  assert.equal(ack.message.text, 'hello over a websocket');
  c.send({ type: 'send', room, text: 'hello over a websocket', clientMsgId: 'm-1' });
  const again = await c.next((m) => m.type === 'ack' && m.replayed, 'the second ack');
  assert.equal(again.message.id, ack.message.id, 'a resend is the same message');
  const event = await c.next((m) => m.type === 'message', 'the event');
  assert.equal(event.id, ack.message.id);
  assert.equal(event.room, room);
  c.send({ type: 'send', room: 'no-such-room-here', text: 'x', clientMsgId: 'm-2' });
  const err = await c.next((m) => m.type === 'error', 'the error');
  assert.deepEqual([err.code, err.clientMsgId, err.room], ['not_found', 'm-2', 'no-such-room-here']);
  c.send({ type: 'send', room, text: ' ' });
  assert.equal((await c.next((m) => m.type === 'error' && m.room === room, 'invalid_text')).code, 'invalid_text');
  c.send({ type: 'send', room, text: ' ', clientMsgId: 'm-3' });
  const blank = await c.next((m) => m.type === 'error' && m.clientMsgId === 'm-3', 'the refusal names its send');
  assert.equal(blank.code, 'invalid_text');
  const page = await api(base, 'GET', `/room/${room}/message/`);
  assert.equal(page.data.length, 1, 'the resend stored nothing');
  assert.equal(c.messages.filter((m) => m.type === 'message').length, 1, 'one event, no duplicate');
  c.close();
}

// The socket ends with its session (4001): a send that reaches chatd before
// the session's end does is answered "unauthorized" first, never acked.
test('a session ended since the upgrade sends no more: unauthorized or at once 4001', async () => {
  const key = await register(direct);
  const c = await connect(direct, key);
  c.send({ type: 'send', room: 'lobby', text: 'while logged in', clientMsgId: 'in' });
  await c.next((m) => m.type === 'ack', 'the ack');
  const before = c.messages.length;
  assert.equal((await api(direct, 'DELETE', '/user/session', { key })).status, 204);
  if (c.closed === null) c.send({ type: 'send', room: 'lobby', text: 'after the logout', clientMsgId: 'out' });
  assert.equal(await c.closeCode(), 4001);
  const answers = c.messages.slice(before).filter((m) => m.clientMsgId === 'out');
  assert.ok(answers.every((m) => m.type === 'error' && m.code === 'unauthorized'), JSON.stringify(answers));
});

test('subscribe, send with acks and an idempotent resend, on a chatd', () => sendAndAck(direct));
test('the same through HAProxy over HTTP', () => sendAndAck(LB_URL));
test('the same through HAProxy over HTTPS', () => sendAndAck(TLS_URL, { ca }));

// The command-line client's "chat tail --ws" (chat_tail_ws in lib/): its
// own upgrade over libcurl's TLS connection, through HAProxy's HTTPS port.
test('chat tail --ws over HTTPS prints the messages after an id', () => {
  const home = mkdtempSync(join(tmpdir(), 'ws-cli-'));
  const env = { ...process.env, CHAT_SERVER: TLS_URL, CHAT_CACERT: process.env.NODE_EXTRA_CA_CERTS,
    CHAT_SESSION_FILE: join(home, 'session'), CHAT_PASSWORD: 'correct horse battery' };
  const chat = (...args) => execFileSync(process.env.WS_CHAT_CLI, args, { env, timeout: WAIT_MS }).toString();
  try {
    chat('register', `cli-${process.pid}-${Date.now()}@example.com`, '--name', 'Cli');
    const tag = `${process.pid}-${Date.now()}`;
    for (const text of ['one', 'two', 'three']) chat('send', `${text} ${tag}`);
    const mine = JSON.parse(chat('history', '--json')).filter((m) => m.text.endsWith(tag));
    assert.equal(mine.length, 3);
    const out = chat('tail', '--ws', '--after', mine[0].id, '--count', '2');
    assert.deepEqual(out.trim().split('\n').map((l) => l.replace(/^.*: /, '')), [`two ${tag}`, `three ${tag}`]);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

// RFC 8441: a WebSocket over HTTP/2 (the extended CONNECT), which HAProxy
// turns into an HTTP/1.1 upgrade towards chatd.
test('the same over HTTP/2 through HAProxy (RFC 8441)', async () => {
  const key = await register(TLS_URL);
  const session = http2.connect(TLS_URL, { ca });
  try {
    const settings = await new Promise((resolve) => session.once('remoteSettings', resolve));
    assert.equal(settings.enableConnectProtocol, true, 'HAProxy announces the extended CONNECT');
    const stream = session.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':path': '/ws',
      ':scheme': 'https', ':authority': new URL(TLS_URL).host, 'sec-websocket-version': '13',
      cookie: `authKey=${key}` });
    const headers = await new Promise((resolve, reject) => { stream.once('response', resolve); stream.once('error', reject); });
    assert.equal(headers[':status'], 200);
    let buf = Buffer.alloc(0);
    stream.on('data', (d) => { buf = Buffer.concat([buf, d]); });
    // the first frame is ready: a small unmasked text frame
    await until(() => buf.length >= 2 && buf.length >= 2 + (buf[1] & 0x7f), 'the ready frame');
    assert.equal(JSON.parse(buf.subarray(2, 2 + (buf[1] & 0x7f)).toString()).type, 'ready');
    stream.close();
  } finally {
    session.close();
  }
});

test('a resumed subscription replays what came after its id', async () => {
  const key = await register(direct);
  const room = await createRoom(direct, key, 'resume');
  const ids = [];
  for (let i = 0; i < 5; i++) {
    const r = await api(direct, 'POST', `/room/${room}/message/`, { body: { text: `m${i}` }, key });
    ids.push(r.data.id);
  }
  const c = await connect(LB_URL, key);
  c.send({ type: 'subscribe', room, after: ids[1] });
  await until(() => c.messages.filter((m) => m.type === 'message').length >= 3, 'the replay');
  assert.deepEqual(c.messages.filter((m) => m.type === 'message').map((m) => m.id), ids.slice(2));
  c.send({ type: 'unsubscribe', room });
  await c.next((m) => m.type === 'unsubscribed', 'unsubscribed');
  c.close();
});

// Stream ids ("ms-seq") in numeric order.
function compareIds(a, b) {
  const [am, as] = a.split('-').map(BigInt), [bm, bs] = b.split('-').map(BigInt);
  return am === bm ? (as < bs ? -1 : as > bs ? 1 : 0) : (am < bm ? -1 : 1);
}

// A raw client on a chatd writes bytes and reads the close code.
async function rawCloseCode(bytes) {
  const key = await register(direct);
  const raw = new RawClient(direct);
  await raw.open(key);
  raw.write(bytes);
  const code = await raw.closeCode();
  raw.destroy();
  return code;
}

test('frames chatd refuses get their RFC 6455 close codes', async () => {
  assert.equal(await rawCloseCode(frame(1, '{"type":"subscribe","room":"lobby"}', { mask: false })), 1002, 'unmasked');
  assert.equal(await rawCloseCode(frame(1, '{}', { rsv: 4 })), 1002, 'a reserved bit');
  assert.equal(await rawCloseCode(frame(3, 'x')), 1002, 'a reserved opcode');
  // wslay's frame layer refuses it before chatd sees it, with a close frame
  // that carries no code
  assert.equal(await rawCloseCode(frame(9, 'x', { fin: false })), 1005, 'a fragmented ping');
  assert.equal(await rawCloseCode(frame(1, Buffer.from([0x7b, 0xc3, 0x28, 0x7d]))), 1007, 'invalid UTF-8');
  assert.equal(await rawCloseCode(frame(2, 'binary')), 1003, 'binary');
  const key = await register(direct);
  const big = await connect(direct, key);
  big.send({ type: 'send', room: 'lobby', text: 'x'.repeat(40000) });
  assert.equal(await big.closeCode(), 1009, 'too big');
});

test('a fragmented message is one message', async () => {
  const key = await register(direct);
  const c = await connect(direct, key);
  const text = JSON.stringify({ type: 'subscribe', room: 'lobby' });
  c.ws.send(text.slice(0, 10), { fin: false });
  c.ws.send(text.slice(10, 20), { fin: false });
  c.ws.send(text.slice(20), { fin: true });
  await c.next((m) => m.type === 'subscribed', 'subscribed');
  c.close();
});

test('chatd pings, answers pings, and closes a ping flood with 1008', async () => {
  const key = await register(direct);
  const c = await connect(direct, key);
  await until(() => c.pings >= 1, 'a ping from chatd (every 1.5 s in this run)');
  let pongs = 0;
  c.ws.on('pong', () => pongs++);
  c.ws.ping();
  await until(() => pongs === 1, 'the pong');
  for (let i = 0; i < 100; i++) c.ws.ping();
  assert.equal(await c.closeCode(), 1008);
});

// Resolves once HAProxy's stats say chatd i (0-based) is out of rotation.
async function outOfRotation(i) {
  await until(async () => {
    const csv = await (await fetch(`${LB_STATS}/stats;csv`)).text();
    const row = csv.split('\n').find((l) => l.startsWith(`chatd,app${i + 1},`));
    return row && row.split(',')[17] !== 'UP';
  }, `HAProxy to take chatd ${i + 1} out`);
}

test('a reader too slow for --stream-buffer is closed with 1013 and resumes', async () => {
  const key = await register(direct);
  const room = await createRoom(direct, key, 'slow');
  const slow = await connect(direct, key);
  slow.send({ type: 'subscribe', room });
  await slow.next((m) => m.type === 'subscribed', 'subscribed');
  slow.ws._socket.pause(); // reads nothing: the kernel's buffers fill, then chatd's queue
  const sender = await connect(direct, key);
  const text = 'x'.repeat(4000);
  const total = 3000; // 12 MB: more than the socket buffers and --stream-buffer (256 KB) hold
  for (let i = 0; i < total; i++) sender.send({ type: 'send', room, text, clientMsgId: `s-${i}` });
  await until(() => sender.messages.filter((m) => m.type === 'ack').length === total, 'every ack', WAIT_MS * 3);
  const sent = sender.messages.filter((m) => m.type === 'ack').map((m) => m.message.id);
  slow.ws._socket.resume();
  assert.equal(await slow.closeCode(), 1013);
  const got = slow.messages.filter((m) => m.type === 'message').map((m) => m.id);
  assert.ok(got.length < total, 'it was cut before the end');
  const again = await connect(direct, key);
  again.send({ type: 'subscribe', room, after: got[got.length - 1] });
  await until(() => got.length + again.messages.filter((m) => m.type === 'message').length >= total,
    'the rest after the resume', WAIT_MS * 3);
  const rest = again.messages.filter((m) => m.type === 'message').map((m) => m.id);
  const all = [...got, ...rest];
  assert.deepEqual(all, [...sent].sort(compareIds), 'every message once, in id order');
  sender.close();
  again.close();
});

test('a client that answers no ping is closed with 1001', async () => {
  const raw = new RawClient(direct);
  await raw.open(await register(direct)); // and never answers chatd's pings
  await until(() => raw.frames().some((f) => f.opcode === 9), 'a ping');
  assert.equal(await raw.closeCode(), 1001);
  raw.destroy();
});

test('SIGTERM closes the WebSockets with 1001', async () => {
  const key = await register(CHATD_URLS[2]);
  const c = await connect(CHATD_URLS[2], key);
  process.kill(CHATD_PIDS[2], 'SIGTERM');
  assert.equal(await c.closeCode(), 1001);
  await outOfRotation(2); // the next test counts on chatd 1 and 2 alone
});

// Which chatd logged the upgrade with this request id.
function holder(requestId) {
  const state = process.env.WS_STATE;
  for (let i = 0; i < CHATD_URLS.length; i++) {
    const log = readFileSync(`${state}/chatd${i + 1}.log`, 'utf8');
    if (log.includes(`req=${requestId} msg="websocket open"`)) return i;
  }
  return -1;
}

test('kill -9 of the chatd holding the socket: resume elsewhere, 0 lost, 0 duplicate', async () => {
  const key = await register(LB_URL);
  const room = await createRoom(LB_URL, key, 'kill');
  const first = await connect(LB_URL, key);
  first.send({ type: 'subscribe', room });
  await first.next((m) => m.type === 'subscribed', 'subscribed');
  const victim = holder(first.requestId);
  assert.ok(victim >= 0 && victim < 2, `the socket is on chatd 1 or 2 (${victim})`);
  const sender = CHATD_URLS[1 - victim];
  const sent = [];
  const send = async (i) => {
    const r = await api(sender, 'POST', `/room/${room}/message/`, { body: { text: `n${i}`, clientMsgId: `k-${i}` }, key });
    assert.equal(r.status, 201);
    sent.push(r.data.id);
  };
  for (let i = 0; i < 20; i++) await send(i);
  await until(() => first.messages.filter((m) => m.type === 'message').length >= 5, 'some live messages');
  process.kill(CHATD_PIDS[victim], 'SIGKILL');
  for (let i = 20; i < 40; i++) await send(i);
  await until(() => first.closed !== null, 'the first socket to end');
  await outOfRotation(victim);
  const before = first.messages.filter((m) => m.type === 'message').map((m) => m.id);
  const second = await connect(LB_URL, key);
  assert.notEqual(holder(second.requestId), victim);
  second.send({ type: 'subscribe', room, after: before[before.length - 1] });
  for (let i = 40; i < 60; i++) await send(i);
  await until(() => second.messages.filter((m) => m.type === 'message').length >= sent.length - before.length,
    'every message after the resume', WAIT_MS * 2);
  const after = second.messages.filter((m) => m.type === 'message').map((m) => m.id);
  assert.deepEqual([...before, ...after], sent, 'no gap, no duplicate, in order');
  second.close();
});
