// Sends over a stream's WebSocket against a real chatd and Redis (run.sh):
// with a stream ready, sends go as `send` frames (the frames the client's
// WebSocket wrote, and chatd's own request counters, which count no POST
// of a message) and resolve with the stored message from the ack; error
// frames reject with the REST code and status; a socket cut in the middle
// of sends hands them to POST with their clientMsgId, and the room's
// history holds every message once, in order; a rate limit is waited out
// for its retryAfter; sendTransport 'post' keeps sends off the socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { ChatError } from '../../web/clusterchat.js';
import {
  URL_A, newUser, unique, next, until, whenLive, startChatd, keep, refusedOverLimit,
} from './lib.mjs';

/**
 * A WebSocket class (npm's ws) that records every `send` frame the client
 * writes in RecordingSocket.frames. cut(n), asked for the n-th send frame of
 * a socket, may return 'before' (the frame is dropped and the socket torn
 * down: chatd never sees it) or 'ack' (the socket is torn down when the
 * frame's ack arrives, which the client never sees: chatd stored it).
 */
function recordingSocket(cut = () => null) {
  const frames = [];
  class RecordingSocket extends WebSocket {
    sends = 0;
    #lose = null; // the clientMsgId whose ack is lost

    send(data, ...rest) {
      const frame = JSON.parse(data);
      if (frame.type !== 'send') return super.send(data, ...rest);
      const how = cut(++this.sends);
      frames.push({ ...frame, cut: how });
      if (how === 'before') return this.terminate();
      if (how === 'ack') this.#lose = frame.clientMsgId;
      return super.send(data, ...rest);
    }

    get onmessage() { return super.onmessage; }
    set onmessage(fn) {
      super.onmessage = (event) => {
        const m = JSON.parse(String(event.data));
        if (m.type === 'ack' && m.clientMsgId === this.#lose) this.terminate();
        else fn(event);
      };
    }
  }
  RecordingSocket.frames = frames;
  return RecordingSocket;
}

/** chatd's count of POSTs of a message (/room/<name>/message/) so far. */
async function messagePosts(base = URL_A) {
  const text = await (await fetch(base + '/metrics')).text();
  let n = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('chatd_http_requests_total{route="/room/*/message",method="POST"')) n += Number(line.split(' ').pop());
  }
  return n;
}

/** A fetch that counts the POSTs of messages it makes. */
function countingFetch() {
  const f = (url, init) => {
    if (init && init.method === 'POST' && /\/message\/$/.test(new URL(url).pathname)) f.posts++;
    return fetch(url, init);
  };
  f.posts = 0;
  return f;
}

/** The messages of room, oldest first (room events left out). */
async function messagesOf(c, room) {
  return (await c.newest(room, 200)).messages.filter((m) => !m.event);
}

const stored = ({ replayed, ...m }) => m;

/**
 * A new user of base whose WebSocket is a RecordingSocket (cut as given),
 * a room of theirs and a stream of it, live: {c, room, s, Socket}.
 */
async function liveSender(tag, { base = URL_A, cut, ...options } = {}) {
  const Socket = recordingSocket(cut);
  const c = await newUser(base, { WebSocket: Socket, ...options });
  const room = unique(tag);
  await c.createRoom(room);
  const s = keep(c.stream({ rooms: [room] }));
  await whenLive(s);
  return { c, room, s, Socket };
}

test('with a stream ready, sends go over its WebSocket and the acks answer with the stored messages', async () => {
  const { c, room, s, Socket } = await liveSender('wssend');
  assert.equal(s.transport, 'ws');
  const live = [];
  s.on('message', (m) => live.push(m.id));
  const postsBefore = await messagePosts();
  const texts = Array.from({ length: 10 }, (_, i) => `over the socket ${i}`);
  const sent = await Promise.all(texts.map((t) => c.send(room, t))); // queued at once, sent in order
  assert.equal(await messagePosts(), postsBefore, 'chatd answered no POST of a message');
  assert.deepEqual(Socket.frames.map((f) => f.text), texts, 'one send frame each, in order');
  assert.deepEqual(sent.map((m) => m.replayed), texts.map(() => false));
  const history = await messagesOf(c, room);
  assert.deepEqual(sent.map(stored), history, 'each ack is the stored message');
  assert.deepEqual(Socket.frames.map((f) => f.clientMsgId).length, new Set(Socket.frames.map((f) => f.clientMsgId)).size);
  const reply = await c.send(room, 'a reply', { replyTo: sent[0].id });
  assert.equal(reply.replyTo.id, sent[0].id);
  assert.equal(Socket.frames.at(-1).replyTo, sent[0].id);
  await until(() => live.includes(reply.id), 'the reply on the stream'); // it may come before its ack
  assert.deepEqual(live, [...sent.map((m) => m.id), reply.id], 'the stream delivered them too');
  s.close();
});

test('an error frame rejects the send with the REST code and status', async () => {
  const owner = await newUser();
  const Socket = recordingSocket();
  const bob = await newUser(URL_A, { WebSocket: Socket });
  const room = unique('wserr');
  await owner.createRoom(room);
  const s = keep(bob.stream({ rooms: [room] }));
  await whenLive(s);
  const streamErrors = [];
  s.on('error', (e) => streamErrors.push(e));
  await owner.ban(room, bob.user.id);
  const postsBefore = await messagePosts();
  await assert.rejects(bob.send(room, 'let me in'),
    (e) => e instanceof ChatError && e.status === 403 && e.code === 'banned' && e.requestId === null);
  await assert.rejects(bob.send(unique('never'), 'x'), (e) => e.status === 404 && e.code === 'not_found');
  await assert.rejects(bob.send(room, ' '), (e) => e.status === 400 && e.code === 'invalid_text');
  await assert.rejects(bob.send(room, 'to nothing', { replyTo: 'x' }), (e) => e.status === 400 && e.code === 'invalid_reply_to');
  assert.equal(Socket.frames.length, 4, 'each went over the socket');
  assert.equal(await messagePosts(), postsBefore, 'and none by POST');
  await assert.rejects(bob.send('No Such Room', 'x'), // a name the socket cannot carry: POST words it
    (e) => e.status === 400 && e.code === 'invalid_room' && Boolean(e.requestId));
  assert.equal(Socket.frames.length, 4);
  assert.deepEqual(streamErrors, [], 'a send\'s error is not the stream\'s');
  assert.equal(s.state, 'live');
  s.close();
});

test('sockets cut in the middle of sends: the sends go by POST, none lost, none twice, in order', async () => {
  // Every socket is torn down at its third send frame, before chatd got it
  // or once chatd stored it, by turns; a batch of five waits for the stream
  // to be live again.
  let cuts = 0;
  const f = countingFetch();
  const { c, room, s, Socket } = await liveSender('wscut',
    { cut: (n) => (n === 3 ? (cuts++ % 2 ? 'ack' : 'before') : null), fetch: f });
  const postsBefore = await messagePosts();
  const texts = [];
  const sent = [];
  for (let batch = 0; batch < 6; batch++) {
    const liveAgain = next(s, 'live');
    const these = Array.from({ length: 5 }, (_, i) => `batch ${batch} message ${i}`);
    texts.push(...these);
    sent.push(...(await Promise.all(these.map((t) => c.send(room, t)))));
    await liveAgain;
  }
  assert.equal(cuts, 6, 'a socket cut in every batch');
  const history = await messagesOf(c, room);
  assert.deepEqual(history.map((m) => m.text), texts, 'every message once, in the order sent');
  assert.deepEqual(sent.map((m) => m.id), history.map((m) => m.id), 'each send resolved with its stored message');
  const frames = Socket.frames.filter((x) => x.cut !== 'before').length;
  assert.ok(f.posts >= 6, `every cut send went by POST (${f.posts} POSTs)`);
  assert.equal(await messagePosts() - postsBefore, f.posts, 'chatd counted the same POSTs');
  assert.ok(frames >= 12, `the socket carried the rest (${frames} frames)`);
  const replayed = sent.filter((m) => m.replayed).map((m) => m.text);
  const ackLost = Socket.frames.filter((x) => x.cut === 'ack').map((x) => x.text);
  assert.deepEqual(replayed, ackLost, 'a send stored before its socket went is answered as a replay by POST');
  console.log(`# 30 sends, 6 sockets cut: ${frames} frames written, ${f.posts} POSTs, ${replayed.length} answered as replays`);
  s.close();
});

test('a rate limit over the WebSocket is waited out for its retryAfter, a ChatError beyond the budget', async () => {
  const d = await startChatd([], { CHATD_LIMIT_MESSAGES_USER: '2/2' });
  const { c, room, s, Socket } = await liveSender('wslimit', { base: d.url });
  const retries = [];
  c.on('retry', (info) => retries.push(info));
  const t0 = Date.now();
  const sent = await Promise.all(['a', 'b', 'c'].map((t) => c.send(room, t)));
  const took = Date.now() - t0;
  assert.deepEqual(sent.map((m) => m.text), ['a', 'b', 'c']);
  assert.ok(retries.length >= 1);
  for (const r of retries) {
    assert.equal(r.via, 'ws');
    assert.equal(r.error.status, 429);
    assert.equal(r.error.code, 'rate_limited');
    assert.ok(r.error.retryAfter >= 1);
    assert.ok(r.delayMs >= r.error.retryAfter * 1000, 'not sooner than retryAfter');
  }
  assert.ok(took >= retries[0].delayMs);
  const resent = Socket.frames.filter((x) => x.clientMsgId === retries[0].clientMsgId);
  assert.equal(resent.length, 2, 'sent again with its clientMsgId');
  assert.equal(await messagePosts(d.url), 0, 'no send went by POST');
  console.log(`# three sends over a 2/2 s limit over the WebSocket took ${took} ms, ${retries.length} retry`);
  await refusedOverLimit(c, room);
  s.close();
});

test('sendTransport "post" sends by POST beside a ready WebSocket', async () => {
  const { c, room, s, Socket } = await liveSender('wspost', { sendTransport: 'post' });
  const postsBefore = await messagePosts();
  const m = await c.send(room, 'by post');
  assert.equal(await messagePosts() - postsBefore, 1);
  assert.equal(Socket.frames.length, 0);
  c.sendTransport = 'auto';
  const w = await c.send(room, 'over the socket');
  assert.equal(Socket.frames.length, 1);
  assert.deepEqual((await messagesOf(c, room)).map((x) => x.id), [m.id, w.id]);
  s.close();
});
