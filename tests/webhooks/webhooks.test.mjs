// Webhooks against a real receiver: two chatd share one Redis and deliver
// to an HTTP server of this file, which checks every signature and
// timestamp and answers as the running test tells it (200, 500, or never).
// Every wait is for an observable event (a request at the receiver, a
// reply, a metric) with a generous bound; delays and latencies are
// printed, and only their documented lower bounds are asserted.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { spawn, execFileSync } from 'node:child_process';
import net from 'node:net';

const CHATD = process.env.WH_CHATD;
const CHATCTL = process.env.WH_CHATCTL; // makes the server API's key
const REDIS = process.env.WH_REDIS; // chatd's --redis
const REDIS_CLI = process.env.WH_REDIS_CLI.split(' '); // redis-cli's options to reach it
const LOG_TAG = process.env.WH_LOG_TAG || 'standalone';
const TMP = process.env.WH_TMP;
const [PORT_A, PORT_B, PORT_RECEIVER] = process.env.WH_PORTS.split(' ').map(Number);
const SECRET = crypto.randomBytes(32).toString('base64url');
const RETRY_BASE_MS = 100;
const MAX_ATTEMPTS = 5;
const CLAIM_AFTER_MS = 1500;
const WAIT_MS = 20000; // the bound of every wait for an event
const TOLERANCE_S = 300; // the receiver refuses older or newer timestamps
const PASSWORD = 'correct horse battery';

// ---- the receiver ----

// Every request it got: {id, body, event, signed, fresh, attempt, at, answered, aborted}.
const received = [];
const hung = []; // requests left unanswered, {req, res, record}
let answer = () => 200; // the running test's rule: (event, record) => 200 | 500 | 'hang'

function verify(headers, body) {
  const ts = headers['webhook-timestamp'] || '';
  const want = 'v1=' + crypto.createHmac('sha256', SECRET).update(`${ts}.${body}`).digest('hex');
  const got = headers['webhook-signature'] || '';
  const signed = got.length === want.length && crypto.timingSafeEqual(Buffer.from(got), Buffer.from(want));
  const fresh = Math.abs(Date.now() / 1000 - Number(ts)) <= TOLERANCE_S;
  return { signed, fresh };
}

function finish(res, record, status) {
  record.answered = status;
  res.writeHead(status, { 'Content-Type': 'text/plain' }).end(String(status));
}

const receiver = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    const { signed, fresh } = verify(req.headers, body);
    const event = JSON.parse(body);
    const record = { id: req.headers['webhook-id'], body, event, signed, fresh,
                     attempt: Number(req.headers['webhook-attempt']), at: performance.now(),
                     answered: null, aborted: false };
    received.push(record);
    res.on('close', () => { if (!res.writableFinished) record.aborted = true; });
    if (!signed || !fresh) return finish(res, record, 400); // what a receiver must do
    const verdict = answer(event, record);
    if (verdict === 'hang') hung.push({ req, res, record });
    else finish(res, record, verdict);
  });
});

function release(status) {
  for (const h of hung.splice(0)) if (!h.res.destroyed) finish(h.res, h.record, status);
}

// ---- chatd ----

const chatds = new Map(); // port -> child process

function startChatd(port) {
  const log = fs.openSync(`${TMP}/chatd-${LOG_TAG}-${port}.log`, 'a');
  const child = spawn(CHATD, [
    '--bind', '127.0.0.1', '--port', String(port), '--redis', REDIS,
    '--workers', '1', '--webhook', `http://127.0.0.1:${PORT_RECEIVER}/hook`,
    '--webhook-secret-file', `${TMP}/webhook.secret`, '--webhook-shards', '4',
    '--webhook-retry-base', String(RETRY_BASE_MS), '--webhook-max-attempts', String(MAX_ATTEMPTS),
    '--webhook-claim-after', String(CLAIM_AFTER_MS), '--webhook-poll', '100',
    '--webhook-timeout', '60000'], { stdio: ['ignore', log, log] });
  chatds.set(port, child);
  return until(async () => (await fetch(url(port) + '/health').catch(() => null))?.status === 200,
               `chatd on ${port} to answer /health`);
}

const redis = (...args) => execFileSync('redis-cli', [...REDIS_CLI, ...args]).toString();

const url = (port) => `http://127.0.0.1:${port}`;

async function until(cond, what, ms = WAIT_MS) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function api(port, method, path, { body, key } = {}) {
  const headers = {};
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(url(port) + path, { method, headers,
                                              body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, data: text ? JSON.parse(text) : null };
}

let counter = 0;
const unique = (tag) => `${tag}-${process.pid}-${++counter}`;

async function register(port, name) {
  const r = await api(port, 'POST', '/user/', { body: { email: `${unique('wh')}@example.com`, password: PASSWORD, name } });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  return { key: r.data.authKey, id: r.data.id, name };
}

async function send(port, key, room, text) {
  const r = await api(port, 'POST', `/room/${room}/message/`, { body: { text }, key });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  return r.data;
}

async function metric(port, name) {
  const text = await (await fetch(url(port) + '/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.split(' ')[1]) : 0;
}

const arrivals = (pred) => received.filter((r) => pred(r.event));
const arrived = (pred, what) => until(() => arrivals(pred).length > 0, what).then(() => arrivals(pred)[0]);
const delivered = (r) => r.answered >= 200 && r.answered < 300 && !r.aborted;

// A minimal WebSocket client for GET /ws: the handshake, masked text
// frames out, the server's text frames in (parsed JSON, in order).
function wsConnect(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const frames = [];
    let buf = Buffer.alloc(0);
    let open = false;
    sock.on('error', reject);
    sock.on('connect', () => sock.write(
      `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!open) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (!buf.subarray(0, end).toString().startsWith('HTTP/1.1 101')) return reject(new Error(buf.toString()));
        buf = buf.subarray(end + 4);
        open = true;
        resolve({ frames, send: (obj) => sock.write(wsFrame(JSON.stringify(obj))), close: () => sock.destroy() });
      }
      for (;;) { // unmasked frames of up to 64 KB
        if (buf.length < 2) return;
        let len = buf[1] & 0x7f, at = 2;
        if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); at = 4; }
        if (buf.length < at + len) return;
        if ((buf[0] & 0x0f) === 1) frames.push(JSON.parse(buf.subarray(at, at + len).toString()));
        buf = buf.subarray(at + len);
      }
    });
  });
}

function wsFrame(text) {
  const payload = Buffer.from(text);
  const mask = crypto.randomBytes(4);
  const head = payload.length < 126 ? Buffer.from([0x81, 0x80 | payload.length])
                                    : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([head, mask, payload.map((b, i) => b ^ mask[i % 4])]);
}

before(async () => {
  fs.writeFileSync(`${TMP}/webhook.secret`, SECRET + '\n');
  await new Promise((resolve) => receiver.listen(PORT_RECEIVER, '127.0.0.1', resolve));
  await Promise.all([startChatd(PORT_A), startChatd(PORT_B)]);
});

after(async () => {
  release(200);
  for (const child of chatds.values()) child.kill('SIGTERM');
  await Promise.all([...chatds.values()].map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode ? r() : c.on('exit', r)))));
  receiver.closeAllConnections();
  receiver.close();
});

test('every event kind arrives signed, fresh and with its id', async () => {
  answer = () => 200;
  const alice = await register(PORT_A, 'Alice');
  const bob = await register(PORT_B, 'Bob');
  const room = unique('room');
  assert.equal((await api(PORT_A, 'POST', '/room/', { body: { name: room }, key: alice.key })).status, 201);
  assert.equal((await api(PORT_B, 'POST', `/room/${room}/member`, { body: {}, key: bob.key })).status, 200);
  const sent = await send(PORT_A, alice.key, room, 'hello webhooks');
  const edit = await api(PORT_B, 'PATCH', `/room/${room}/message/?id=${sent.id}`, { body: { text: 'hello, edited' }, key: alice.key });
  assert.equal(edit.status, 200);
  assert.equal((await api(PORT_A, 'DELETE', `/room/${room}/message/?id=${sent.id}`, { key: alice.key })).status, 200);
  assert.equal((await api(PORT_B, 'DELETE', `/room/${room}/member`, { key: bob.key })).status, 200);
  assert.equal((await api(PORT_B, 'POST', `/room/${room}/member`, { body: {}, key: bob.key })).status, 200);
  const ban = await api(PORT_A, 'PUT', `/room/${room}/member`, { body: { userId: bob.id, role: 'banned' }, key: alice.key });
  assert.equal(ban.status, 200);

  const of = (type, pred = () => true) => (e) => e.type === type && pred(e.data);
  const inRoom = (d) => d.room === room;
  const events = {
    registered: await arrived(of('user.registered', (d) => d.userId === alice.id), 'user.registered'),
    created: await arrived(of('message.created', (d) => d.message.id === sent.id), 'message.created'),
    edited: await arrived(of('message.edited', (d) => d.id === sent.id), 'message.edited'),
    removed: await arrived(of('message.removed', (d) => d.id === sent.id), 'message.removed'),
    joined: await arrived(of('member.joined', inRoom), 'member.joined'),
    left: await arrived(of('member.left', inRoom), 'member.left'),
    banned: await arrived(of('member.banned', inRoom), 'member.banned'),
  };
  for (const [what, r] of Object.entries(events)) {
    assert.ok(r.signed, `${what}: the signature verifies`);
    assert.ok(r.fresh, `${what}: the timestamp is fresh`);
    assert.match(r.id, /^evt_[0-9a-f]{32}$/, `${what}: an event id`);
    assert.equal(r.event.id, r.id, `${what}: the header and the body name the same id`);
    assert.equal(typeof r.event.timestamp, 'number');
  }
  assert.equal(events.registered.event.data.name, 'Alice');
  assert.equal(events.created.event.data.message.text, 'hello webhooks');
  assert.equal(events.created.event.data.message.userId, alice.id);
  assert.equal(events.edited.event.data.text, 'hello, edited');
  assert.equal(events.removed.event.data.by, alice.id);
  assert.equal(events.joined.event.data.userId, bob.id);
  assert.equal(events.left.event.data.userId, bob.id);
  assert.equal(events.banned.event.data.userId, bob.id);
  assert.equal(events.banned.event.data.by, alice.id);
  const ids = new Set(Object.values(events).map((r) => r.id));
  assert.equal(ids.size, 7, 'seven events, seven ids');
});

test('a message sent over GET /ws is reported too', async () => {
  answer = () => 200;
  const alice = await register(PORT_B, 'Socket');
  const ws = await wsConnect(PORT_B);
  try {
    ws.send({ type: 'auth', authKey: alice.key });
    ws.send({ type: 'send', room: 'lobby', text: 'over a websocket', clientMsgId: 'ws-1' });
    await until(() => ws.frames.some((f) => f.type === 'ack'), 'the ack');
    const ack = ws.frames.find((f) => f.type === 'ack');
    const r = await arrived((e) => e.type === 'message.created' && e.data.message.id === ack.message.id, 'its event');
    assert.ok(r.signed);
    assert.equal(r.event.data.message.text, 'over a websocket');
  } finally {
    ws.close();
  }
});

// ---- the server API's actions ----

let apiKey; // made once, on the Redis both chatd share
function serverKey() {
  if (!apiKey) {
    const host = REDIS.split(',')[0];
    const out = execFileSync(CHATCTL, ['--redis', host, 'key', 'create', '--name', unique('hooks')],
                             { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    apiKey = out.match(/^key: *(ck_\S+)$/m)[1];
  }
  return apiKey;
}

const serverApi = (port, method, path, body) => api(port, method, `/api/v1${path}`, { body, key: serverKey() });

test('every server API action raises the event its user route does', async () => {
  answer = () => 200;
  const owner = await register(PORT_A, 'Owner');
  const bob = await register(PORT_B, 'Robert');
  const room = unique('apiroom');
  assert.equal((await serverApi(PORT_A, 'POST', '/room', { name: room, ownerId: owner.id })).status, 201);
  const bySystem = await serverApi(PORT_B, 'POST', `/room/${room}/message`, { text: 'from the backend', clientMsgId: unique('cmid') });
  assert.equal(bySystem.status, 201, JSON.stringify(bySystem.data));
  const byBob = await serverApi(PORT_A, 'POST', `/room/${room}/message`, { text: 'as Bob', clientMsgId: unique('cmid'), userId: bob.id });
  assert.equal(byBob.status, 201, JSON.stringify(byBob.data));
  const added = await serverApi(PORT_A, 'POST', `/room/${room}/member`, { userId: bob.id });
  assert.equal(added.status, 200, JSON.stringify(added.data));
  const removal = await serverApi(PORT_B, 'DELETE', `/room/${room}/message?id=${bySystem.data.id}`);
  assert.equal(removal.status, 200, JSON.stringify(removal.data));
  const removed = await serverApi(PORT_A, 'DELETE', `/room/${room}/member?userId=${bob.id}`);
  assert.equal(removed.status, 200, JSON.stringify(removed.data));
  const banned = await serverApi(PORT_B, 'PUT', `/room/${room}/member`, { userId: bob.id, role: 'banned' });
  assert.equal(banned.status, 200, JSON.stringify(banned.data));

  const of = (type, pred) => (e) => e.type === type && e.data.room === room && pred(e.data);
  const events = {
    system: await arrived(of('message.created', (d) => d.message.id === bySystem.data.id), 'the system\'s message.created'),
    user: await arrived(of('message.created', (d) => d.message.id === byBob.data.id), 'the user\'s message.created'),
    joined: await arrived(of('member.joined', (d) => d.eventId === added.data.eventId), 'member.joined'),
    removed: await arrived(of('message.removed', (d) => d.id === bySystem.data.id), 'message.removed'),
    left: await arrived(of('member.left', (d) => d.eventId === removed.data.eventId), 'member.left'),
    banned: await arrived(of('member.banned', (d) => d.eventId === banned.data.eventId), 'member.banned'),
  };
  for (const [what, r] of Object.entries(events)) {
    assert.ok(r.signed, `${what}: the signature verifies`);
    assert.ok(r.fresh, `${what}: the timestamp is fresh`);
    assert.match(r.id, /^evt_[0-9a-f]{32}$/, `${what}: an event id`);
    assert.equal(r.event.id, r.id, `${what}: the header and the body name the same id`);
  }
  assert.deepEqual(events.system.event.data.message, bySystem.data, 'the message as the publish answered it');
  assert.equal(events.system.event.data.message.userId, 'system');
  assert.equal(events.system.event.data.message.name, 'System');
  assert.equal(events.user.event.data.message.userId, bob.id);
  assert.equal(events.user.event.data.message.name, 'Robert');
  assert.deepEqual(events.joined.event.data, { room, userId: bob.id, name: 'Robert', role: 'member',
                                               eventId: added.data.eventId, roomEvent: 'invited', by: 'system' });
  assert.deepEqual(events.removed.event.data, { room, id: bySystem.data.id, eventId: removal.data.eventId,
                                                by: 'system', own: false });
  assert.equal(events.left.event.data.roomEvent, 'removed');
  assert.equal(events.left.event.data.userId, bob.id);
  assert.equal(events.left.event.data.by, 'system');
  assert.equal(events.banned.event.data.roomEvent, 'banned');
  assert.equal(events.banned.event.data.role, 'banned');
  assert.equal(events.banned.event.data.by, 'system');
  assert.equal(new Set(Object.values(events).map((r) => r.id)).size, 6, 'six events, six ids');
});

test('a retried publish queues its event again under the same id', async () => {
  answer = () => 200;
  const owner = await register(PORT_A, 'Retried');
  const room = unique('apiretry');
  assert.equal((await serverApi(PORT_A, 'POST', '/room', { name: room, ownerId: owner.id })).status, 201);
  const body = { text: 'published twice', clientMsgId: unique('cmid') };
  const first = await serverApi(PORT_A, 'POST', `/room/${room}/message`, body);
  const again = await serverApi(PORT_B, 'POST', `/room/${room}/message`, body);
  assert.equal(first.status, 201);
  assert.equal(again.status, 201);
  assert.equal(again.data.id, first.data.id, 'one message');
  const mine = (e) => e.type === 'message.created' && e.data.message.id === first.data.id;
  await until(() => arrivals(mine).length >= 2, 'the event of each answer');
  assert.equal(new Set(arrivals(mine).map((r) => r.id)).size, 1, 'one event id: the receiver drops the duplicate');
});

test('role changes and lifted bans are reported, by a user and by the server API', async () => {
  answer = () => 200;
  const owner = await register(PORT_A, 'Chief');
  const carol = await register(PORT_B, 'Carol');
  const room = unique('roles');
  assert.equal((await api(PORT_A, 'POST', '/room/', { body: { name: room }, key: owner.key })).status, 201);
  assert.equal((await api(PORT_B, 'POST', `/room/${room}/member`, { body: {}, key: carol.key })).status, 200);
  const banned = await api(PORT_B, 'PUT', `/room/${room}/member`, { body: { userId: carol.id, role: 'banned' }, key: owner.key });
  assert.equal(banned.status, 200, JSON.stringify(banned.data));
  const unbanned = await api(PORT_A, 'DELETE', `/room/${room}/member?userId=${carol.id}`, { key: owner.key });
  assert.equal(unbanned.status, 200, JSON.stringify(unbanned.data));
  assert.equal((await api(PORT_B, 'POST', `/room/${room}/member`, { body: {}, key: carol.key })).status, 200);
  const promoted = await api(PORT_A, 'PUT', `/room/${room}/member`, { body: { userId: carol.id, role: 'moderator' }, key: owner.key });
  assert.equal(promoted.status, 200, JSON.stringify(promoted.data));
  const made = await serverApi(PORT_A, 'PUT', `/room/${room}/member`, { userId: carol.id, role: 'member' });
  assert.equal(made.status, 200, JSON.stringify(made.data));
  const rebanned = await serverApi(PORT_B, 'PUT', `/room/${room}/member`, { userId: carol.id, role: 'banned' });
  assert.equal(rebanned.status, 200, JSON.stringify(rebanned.data));
  const lifted = await serverApi(PORT_A, 'DELETE', `/room/${room}/member?userId=${carol.id}`);
  assert.equal(lifted.status, 200, JSON.stringify(lifted.data));

  const by = (type, reply) => arrived((e) => e.type === type && e.data.room === room && e.data.eventId === reply.data.eventId, type);
  const events = {
    promoted: await by('member.role', promoted),
    unbanned: await by('member.unbanned', unbanned),
    made: await by('member.role', made),
    lifted: await by('member.unbanned', lifted),
  };
  for (const [what, r] of Object.entries(events)) {
    assert.ok(r.signed && r.fresh, `${what}: signed and fresh`);
    assert.equal(r.event.id, r.id, `${what}: the header and the body name the same id`);
    assert.equal(r.event.data.userId, carol.id);
    assert.equal(r.event.data.name, 'Carol');
  }
  assert.deepEqual(events.promoted.event.data, { room, userId: carol.id, name: 'Carol', role: 'moderator',
                                                 eventId: promoted.data.eventId, roomEvent: 'role', by: owner.id });
  assert.equal(events.unbanned.event.data.roomEvent, 'unbanned');
  assert.equal(events.unbanned.event.data.by, owner.id);
  assert.equal(events.made.event.data.role, 'member');
  assert.equal(events.made.event.data.by, 'system');
  assert.equal(events.lifted.event.data.roomEvent, 'unbanned');
  assert.equal(events.lifted.event.data.by, 'system');
});

test('room.created: a room by a user or the server API, a direct conversation', async () => {
  answer = () => 200;
  const dan = await register(PORT_A, 'Dan');
  const eve = await register(PORT_B, 'Eve');
  const own = unique('ownroom');
  const made = unique('maderoom');
  assert.equal((await api(PORT_A, 'POST', '/room/', { body: { name: own, kind: 'private' }, key: dan.key })).status, 201);
  const body = { name: made, ownerId: eve.id };
  assert.equal((await serverApi(PORT_B, 'POST', '/room', body)).status, 201);
  assert.equal((await serverApi(PORT_A, 'POST', '/room', body)).status, 200, 'a retry');
  const dm = await api(PORT_A, 'POST', '/dm/', { body: { userId: eve.id }, key: dan.key });
  assert.equal(dm.status, 201, JSON.stringify(dm.data));

  const created = (room) => (e) => e.type === 'room.created' && e.data.room === room;
  const events = {
    own: await arrived(created(own), 'room.created of POST /room/'),
    made: await arrived(created(made), 'room.created of POST /api/v1/room'),
    dm: await arrived(created(dm.data.name), 'room.created of POST /dm/'),
  };
  for (const [what, r] of Object.entries(events)) {
    assert.ok(r.signed && r.fresh, `${what}: signed and fresh`);
    assert.equal(r.event.id, r.id, `${what}: the header and the body name the same id`);
  }
  assert.deepEqual(events.own.event.data, { room: own, kind: 'private', by: dan.id, members: [dan.id] });
  assert.deepEqual(events.made.event.data, { room: made, kind: 'public', by: 'system', members: [eve.id] });
  assert.deepEqual(events.dm.event.data, { room: dm.data.name, kind: 'direct', by: dan.id, members: [dan.id, eve.id] });
  await until(() => arrivals(created(made)).length >= 2, 'the event of the retried creation');
  assert.equal(new Set(arrivals(created(made)).map((r) => r.id)).size, 1, 'a retried creation: one event id');
});

// The queue shard of a room, as chatd picks it (FNV-1a, --webhook-shards 4).
function shardOf(room) {
  let h = 2166136261;
  for (const b of Buffer.from(room)) h = Math.imul(h ^ b, 16777619) >>> 0;
  return h % 4;
}

test('a send whose event cannot be queued answers 503; its retry queues it', async () => {
  answer = () => 200;
  const alice = await register(PORT_A, 'Unlucky');
  const room = unique('broken');
  assert.equal((await api(PORT_A, 'POST', '/room/', { body: { name: room }, key: alice.key })).status, 201);
  const shard = `webhook:{${shardOf(room)}}`;
  // the room's own room.created goes to that shard: delivered, it leaves it
  await until(() => redis('XLEN', shard).trim() === '0', 'the room.created of the room to be delivered');
  assert.equal(redis('XLEN', shard).trim(), '0', 'nothing is waiting in the shard');
  redis('DEL', shard);
  redis('SET', shard, 'not a stream'); // its XADD now fails (WRONGTYPE)
  const body = { text: 'queued at the second try', clientMsgId: unique('cmid') };
  let first;
  try {
    first = await api(PORT_A, 'POST', `/room/${room}/message/`, { body, key: alice.key });
  } finally {
    redis('DEL', shard);
  }
  assert.equal(first.status, 503);
  assert.equal(first.data.error.code, 'unavailable', 'a plain error body, not the message');
  const again = await fetch(`${url(PORT_A)}/room/${room}/message/`, {
    method: 'POST', headers: { Authorization: `Bearer ${alice.key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body) });
  assert.equal(again.status, 201);
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  const sent = await again.json();
  const r = await arrived((e) => e.type === 'message.created' && e.data.message.id === sent.id, 'the replayed send\'s event');
  assert.equal(r.event.data.message.text, 'queued at the second try');
});

test('a tampered signature is what the receiver refuses', () => {
  const body = '{"id":"evt_x"}';
  const ts = String(Math.floor(Date.now() / 1000));
  const sig = 'v1=' + crypto.createHmac('sha256', SECRET).update(`${ts}.${body}`).digest('hex');
  assert.ok(verify({ 'webhook-timestamp': ts, 'webhook-signature': sig }, body).signed);
  assert.ok(!verify({ 'webhook-timestamp': ts, 'webhook-signature': sig }, body + ' ').signed);
  assert.ok(!verify({ 'webhook-timestamp': String(Number(ts) - 600), 'webhook-signature': sig }, body).fresh);
});

test('a receiver answering 500 gets retries with growing delays', async () => {
  const failing = 3;
  answer = (e, r) => (e.data.message?.text === 'retry me' && r.attempt <= failing ? 500 : 200);
  const alice = await register(PORT_A, 'Retrier');
  const sent = await send(PORT_A, alice.key, 'lobby', 'retry me');
  const mine = (e) => e.type === 'message.created' && e.data.message.id === sent.id;
  await until(() => arrivals(mine).some((r) => r.answered === 200), 'the delivery after the retries');
  const tries = received.filter((r) => mine(r.event));
  assert.equal(tries.length, failing + 1);
  assert.deepEqual(tries.map((r) => r.attempt), [1, 2, 3, 4]);
  assert.equal(new Set(tries.map((r) => r.id)).size, 1, 'one event id for every attempt');
  const gaps = tries.slice(1).map((r, i) => Math.round(r.at - tries[i].at));
  console.log(`# retry delays after 500: ${gaps.join(' ms, ')} ms (base ${RETRY_BASE_MS} ms, doubling, jittered)`);
  // attempt n+1 waits at least half of base * 2^(n-1): 50, 100, 200 ms here, so
  // each documented floor is above the one before (less 5 ms for the rounding
  // of the two clocks involved)
  gaps.forEach((gap, i) => assert.ok(gap >= (RETRY_BASE_MS * 2 ** i) / 2 - 5, `gap ${i + 1} of ${gap} ms is not below its backoff`));
});

test('a delivery failing every attempt goes to the dead letters', async () => {
  answer = (e) => (e.data.message?.text === 'never' ? 500 : 200);
  const before = (await metric(PORT_A, 'chatd_webhook_failed_total')) + (await metric(PORT_B, 'chatd_webhook_failed_total'));
  const alice = await register(PORT_A, 'Doomed');
  const sent = await send(PORT_B, alice.key, 'lobby', 'never');
  const mine = (e) => e.type === 'message.created' && e.data.message.id === sent.id;
  await until(async () => (await metric(PORT_A, 'chatd_webhook_failed_total')) +
                          (await metric(PORT_B, 'chatd_webhook_failed_total')) === before + 1,
              'chatd_webhook_failed_total to count it');
  assert.equal(arrivals(mine).length, MAX_ATTEMPTS, `${MAX_ATTEMPTS} attempts, then no more`);
  const id = arrivals(mine)[0].id;
  const dead = [0, 1, 2, 3].flatMap((n) => redis('XRANGE', `webhook:{${n}}:dead`, '-', '+').split('\n'));
  assert.ok(dead.includes(id), 'the dead letters hold the event');
});

test('a send is answered while the receiver hangs', async () => {
  answer = () => 'hang';
  const alice = await register(PORT_A, 'Patient'); // its event hangs too
  await until(() => hung.length > 0, 'the receiver to hold a request');
  const held = hung[0];
  const replies = [];
  for (let i = 0; i < 5; i++) replies.push(await api(PORT_A, 'POST', '/room/lobby/message/', { body: { text: `while hung ${i}` }, key: alice.key }));
  assert.deepEqual(replies.map((r) => r.status), [201, 201, 201, 201, 201]);
  assert.equal(held.record.answered, null, 'the receiver still holds the first request unanswered');
  assert.ok(!held.res.writableEnded);
  answer = () => 200;
  release(200);
  for (const r of replies)
    await arrived((e) => e.type === 'message.created' && e.data.message.id === r.data.id, 'the messages sent meanwhile');
});

test('latency from send to receiver', async () => {
  answer = () => 200;
  const alice = await register(PORT_A, 'Timer');
  const latencies = [];
  for (let i = 0; i < 50; i++) {
    const started = performance.now();
    const sent = await send(i % 2 ? PORT_A : PORT_B, alice.key, 'lobby', `latency ${i}`);
    const r = await arrived((e) => e.type === 'message.created' && e.data.message.id === sent.id, `message ${i}`);
    latencies.push(r.at - started);
  }
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))].toFixed(1);
  console.log(`# delivery latency, send to receiver, 50 messages: p50 ${pct(50)} ms, p99 ${pct(99)} ms`);
  assert.equal(latencies.length, 50);
});

test('kill -9 of a chatd holding deliveries: another delivers them, none lost', async () => {
  answer = () => 'hang';
  const alice = await register(PORT_A, 'Survivor');
  await until(() => hung.length > 0, 'the registration event to hang');
  release(200); // not part of the count below
  const sent = [];
  for (let i = 0; i < 20; i++) sent.push((await send(i % 2 ? PORT_A : PORT_B, alice.key, 'lobby', `kill ${i}`)).id);
  const ofSent = (e) => e.type === 'message.created' && sent.includes(e.data.message.id);
  await until(() => new Set(arrivals(ofSent).map((r) => r.id)).size === 20, 'every event to reach the hanging receiver');
  const heldByA = await metric(PORT_A, 'chatd_webhook_in_flight');
  console.log(`# at the kill: chatd A holds ${heldByA} deliveries in flight, B ${await metric(PORT_B, 'chatd_webhook_in_flight')}`);
  assert.ok(heldByA > 0, 'the chatd to be killed holds deliveries');
  chatds.get(PORT_A).kill('SIGKILL');
  await new Promise((r) => chatds.get(PORT_A).on('exit', r));
  chatds.delete(PORT_A);
  // the dead chatd's connections close at the receiver: only then is an
  // answer to the others a delivery (an answer written to a dead peer is not)
  await until(() => hung.filter((h) => h.record.aborted).length >= heldByA,
              "the receiver to see the dead chatd's connections close");
  answer = () => 200;
  release(200);
  const ids = [...new Set(arrivals(ofSent).map((r) => r.id))];
  await until(() => ids.every((id) => received.some((r) => r.id === id && delivered(r))),
              'every event delivered after the kill', WAIT_MS + CLAIM_AFTER_MS);
  const all = arrivals(ofSent);
  const unique = new Set(all.filter(delivered).map((r) => r.id));
  console.log(`# after kill -9: ${all.length} requests for 20 events, ${all.length - 20} duplicates` +
              ` (deduplicated by id: ${unique.size} delivered), ${await metric(PORT_B, 'chatd_webhook_claimed_total')} taken over`);
  assert.equal(unique.size, 20, '0 lost');
  assert.ok(await metric(PORT_B, 'chatd_webhook_claimed_total') >= heldByA, 'the survivor took over what the dead one held');
});

test('the surviving chatd exits cleanly on SIGTERM, a delivery in flight', async () => {
  answer = () => 'hang';
  const alice = await register(PORT_B, 'Last');
  await until(() => hung.some((h) => h.record.event.data.userId === alice.id), 'a delivery in flight');
  await until(async () => (await metric(PORT_B, 'chatd_webhook_in_flight')) === 1,
              'chatd to count that one delivery in flight (the answers before it counted out)');
  const child = chatds.get(PORT_B);
  const exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
  child.kill('SIGTERM');
  const { code, signal } = await exited;
  chatds.delete(PORT_B);
  assert.equal(signal, null);
  assert.equal(code, 0, 'exit status 0 (under ASan: no leaks)');
});
