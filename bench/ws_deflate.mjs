// ws_deflate: would permessage-deflate (RFC 7692) pay on chatd's WebSocket?
// chatd does not offer it; this measures what it would save and cost on the
// frames chatd really sends for a stream of ordinary chat messages.
//
// usage: node bench/ws_deflate.mjs BASE_URL [MESSAGES [USERS]]
//
// It registers USERS users (default 10) on the chatd at BASE_URL, follows the
// lobby over one WebSocket (GET /ws), sends MESSAGES messages (default 2,000)
// by POST /message/, round-robin over the users, with texts of chat length
// drawn from a fixed vocabulary (a seeded generator: the same texts each
// run), and keeps every "message" frame chatd sends for them. Then it
// compresses those payloads as a permessage-deflate sender would, raw
// deflate (windowBits 15, memLevel 8) with one flush per message and the
// trailing 00 00 ff ff removed, in two ways:
//   takeover     one compressor per connection keeps its window across
//                messages (context takeover, the RFC's default): Z_SYNC_FLUSH
//   no takeover  each message compressed on its own
//                (server_no_context_takeover): Z_FULL_FLUSH, which forgets
//                the window like the deflateReset such a sender calls
// at zlib level 6 (the default) and 1, each checked by inflating it back.
// It prints "name value" lines: the frames' mean size on the wire (header
// included) before and after, and the CPU time of the compression per frame
// (the fastest of 15 passes over all frames, each pass a fresh compressor:
// on a shared machine the others are slowed by whatever else runs).
//
// Node's zlib has no synchronous streaming call (its sync API compresses one
// whole input and closes the stream), so the passes call the zlib handle's
// writeSync directly, as that sync API does inside: the figure is zlib's own
// work plus one call from JavaScript, what a C server would pay per frame.
import zlib from 'node:zlib';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../tests/ws/package.json', import.meta.url));
const WebSocket = require('ws');
const [base, messagesArg = '2000', usersArg = '10'] = process.argv.slice(2);
const messages = Number(messagesArg), users = Number(usersArg);
if (!base || !(messages > 0) || !(users > 0)) {
  console.error('usage: node bench/ws_deflate.mjs BASE_URL [MESSAGES [USERS]]');
  process.exit(2);
}
const PASSES = 15;
const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

// ---- chat texts: a seeded generator over a fixed vocabulary ----

function mulberry32(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = mulberry32(18);
const pick = (list) => list[Math.floor(random() * list.length)];
const short = ['ok', 'yes', 'no', 'lol', 'thanks!', 'sure', 'on it', 'nice', 'same here', 'brb', 'done',
  'ok 👍', 'haha', 'good morning', 'see you tomorrow', 'sounds good', 'agreed', '+1', 'what?', 'why not'];
const words = ('the a to and of I you it is that in we for this on have be with not are can do will ' +
  'was just so but if at my me what about all they from get out one up there your time like know ' +
  'meeting today tomorrow deploy build test release branch review merge fix bug issue server client ' +
  'message room channel lunch coffee weekend call later tonight think maybe should could would need ' +
  'want working looks great thanks please check send link docs update after before morning team ' +
  'customer ticket config logs error again still already yet soon minutes hour week friday monday ' +
  'plan idea question answer right wrong sorry problem works broken slow fast new old').split(' ');
const tails = ['?', '!', '.', '', '', '', ' :)', ' 😅', ' 🎉', '...'];
const extras = ['https://example.com/docs/setup', 'https://github.com/example/project/pull/1234',
  '@alice', '@bob', '@carol', '`make test`', '#1234', '10:30', '3pm', 'v2.4.1'];

function chatText() {
  const r = random();
  if (r < 0.25) return pick(short);
  const n = r < 0.7 ? 3 + Math.floor(random() * 10) : r < 0.95 ? 12 + Math.floor(random() * 25)
    : 35 + Math.floor(random() * 50);
  const out = [];
  for (let i = 0; i < n; i++) out.push(random() < 0.06 ? pick(extras) : pick(words));
  out[0] = out[0][0].toUpperCase() + out[0].slice(1);
  return out.join(' ') + pick(tails);
}

// ---- capturing chatd's frames ----

async function register(i) {
  const body = JSON.stringify({ email: `deflate-${process.pid}-${i}@example.com`, password: 'bench-password',
    name: pick(['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy']) });
  const res = await fetch(`${base}/user/`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
  const json = await res.json();
  if (!json.authKey) throw new Error(`POST /user/ answered ${res.status} ${JSON.stringify(json)}`);
  return json.authKey;
}

function follow(authKey, onFrame) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(base.replace(/^http/, 'ws') + '/ws',
      { headers: { Cookie: `authKey=${authKey}` }, perMessageDeflate: false });
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.type === 'ready') ws.send(JSON.stringify({ type: 'subscribe', room: 'lobby' }));
      else if (m.type === 'subscribed') resolve(ws);
      else if (m.type === 'message') onFrame(Buffer.from(data));
    });
    ws.on('error', reject);
  });
}

async function capture() {
  const tokens = [];
  for (let i = 0; i < users; i++) tokens.push(await register(i));
  const frames = [];
  const ws = await follow(tokens[0], (payload) => frames.push(payload));
  for (let i = 0; i < messages; i++) {
    const res = await fetch(`${base}/message/`, { method: 'POST',
      headers: { 'Content-Type': 'application/json', Cookie: `authKey=${tokens[i % users]}` },
      body: JSON.stringify({ text: chatText() }) });
    if (res.status !== 201) throw new Error(`POST /message/ answered ${res.status}`);
  }
  const deadline = Date.now() + 10000;
  while (frames.length < messages && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  ws.terminate();
  if (frames.length !== messages) throw new Error(`${frames.length} of ${messages} frames came`);
  return frames;
}

// ---- compressing them ----

// A frame's bytes on the wire from the server: header and payload (unmasked).
const wire = (len) => len + (len < 126 ? 2 : len < 65536 ? 4 : 10);

// One message through a zlib deflate stream with the given flush, without
// closing it (the loop of zlib's processChunkSync, minus its close).
function deflateMessage(stream, payload, flush) {
  const out = [];
  let inOff = 0, inLen = payload.length;
  for (;;) {
    const outBuf = Buffer.allocUnsafe(16384);
    stream._handle.writeSync(flush, payload, inOff, inLen, outBuf, 0, outBuf.length);
    const [availOut, availIn] = stream._writeState;
    out.push(outBuf.subarray(0, outBuf.length - availOut));
    inOff += inLen - availIn;
    inLen = availIn;
    if (availOut !== 0) break; // all input taken and the flush complete
  }
  const all = Buffer.concat(out);
  if (!all.subarray(-4).equals(TRAILER)) throw new Error('a flush without its 00 00 ff ff');
  return all.subarray(0, -4);
}

function newDeflater(level) {
  const stream = zlib.createDeflateRaw({ level, windowBits: 15, memLevel: 8 });
  if (!stream._handle || !stream._writeState) throw new Error("this Node's zlib has no _handle/_writeState");
  return stream;
}

// One pass: a fresh compressor, every frame through it; the µs it took and
// the compressed payloads.
function pass(frames, level, takeover) {
  const stream = newDeflater(level);
  const flush = takeover ? zlib.constants.Z_SYNC_FLUSH : zlib.constants.Z_FULL_FLUSH;
  const out = new Array(frames.length);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < frames.length; i++) out[i] = deflateMessage(stream, frames[i], flush);
  const us = Number(process.hrtime.bigint() - t0) / 1e3;
  stream.close();
  return { us, out };
}

// Inflates the compressed messages back, as a receiver with (or without) the
// window of the earlier ones; throws unless every one matches.
function check(frames, compressed, takeover) {
  const open = { finishFlush: zlib.constants.Z_SYNC_FLUSH }; // no final block
  if (takeover) {
    const whole = zlib.inflateRawSync(Buffer.concat(compressed.flatMap((c) => [c, TRAILER])), open);
    if (!whole.equals(Buffer.concat(frames))) throw new Error('context takeover: the inflated stream differs');
    return;
  }
  compressed.forEach((c, i) => {
    if (!zlib.inflateRawSync(Buffer.concat([c, TRAILER]), open).equals(frames[i]))
      throw new Error(`no takeover: message ${i} inflates to something else`);
  });
}

function measure(frames, level, takeover) {
  const passes = [];
  for (let p = 0; p < PASSES; p++) passes.push(pass(frames, level, takeover));
  check(frames, passes[0].out, takeover);
  const us = Math.min(...passes.map((p) => p.us)); // the least disturbed by other work
  const bytes = passes[0].out.reduce((sum, c) => sum + wire(c.length), 0);
  return { bytesPerFrame: bytes / frames.length, usPerFrame: us / frames.length };
}

const frames = await capture();
const texts = frames.map((f) => JSON.parse(f).text.length);
const before = frames.reduce((sum, f) => sum + wire(f.length), 0) / frames.length;
console.log(`frames ${frames.length}`);
console.log(`text_chars_mean ${(texts.reduce((a, b) => a + b, 0) / texts.length).toFixed(1)}`);
console.log(`bytes_per_frame_plain ${before.toFixed(1)}`);
for (const level of [6, 1]) {
  for (const takeover of [true, false]) {
    const m = measure(frames, level, takeover);
    const name = `${takeover ? 'takeover' : 'no_takeover'}_level${level}`;
    console.log(`bytes_per_frame_${name} ${m.bytesPerFrame.toFixed(1)}`);
    console.log(`ratio_${name} ${(m.bytesPerFrame / before).toFixed(3)}`);
    console.log(`us_per_frame_${name} ${m.usPerFrame.toFixed(2)}`);
  }
}
// zlib's deflate state (deflate.c: window 2 x 2^windowBits, prev and head
// 2 bytes x 2^windowBits and 2^(memLevel+7), pending 4 x 2^(memLevel+6)):
// what each connection holds with context takeover.
const w = 1 << 15, h = 1 << (8 + 7), lit = 1 << (8 + 6);
console.log(`compressor_kb ${((2 * w + 2 * w + 2 * h + 4 * lit) / 1024).toFixed(0)}`);
process.exit(0);
