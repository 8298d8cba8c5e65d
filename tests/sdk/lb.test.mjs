// Through HAProxy (deploy/haproxy.cfg in front of three chatd, as make run
// has it): the stream's chatd is killed with SIGKILL and the client, which
// knows only the balancer's address, reconnects through it to another chatd
// and resumes: every message, once, in order. One chatd per transport is
// killed, so this file runs last. Prints how long the stream took to be
// live again after the kill.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newUser, unique, next, until, whenLive, client, keep } from './lib.mjs';

const LB_URL = process.env.SDK_LB_URL;
const CHATD_URLS = process.env.SDK_CHATD_URLS.split(' ');
const CHATD_PIDS = process.env.SDK_CHATD_PIDS.split(' ').map(Number);
const killed = new Set();

// The chatd (index) that holds open streams: the one our stream is on.
async function holder() {
  let found = -1;
  await until(async () => {
    const open = [];
    for (let i = 0; i < CHATD_URLS.length; i++) {
      if (killed.has(i)) continue;
      const text = await (await fetch(CHATD_URLS[i] + '/metrics')).text();
      const m = /^chatd_open_streams (\d+)/m.exec(text);
      if (m && Number(m[1]) > 0) open.push(i);
    }
    found = open.length === 1 ? open[0] : -1;
    return found >= 0;
  }, 'one chatd holding the stream');
  return found;
}

for (const transport of ['ws', 'sse']) {
  test(`${transport} through HAProxy: kill -9 of the stream's chatd, resumed on another`, async () => {
    const reader = client(LB_URL, { token: (await newUser(CHATD_URLS[0])).token });
    await reader.me();
    const room = unique(`lb-${transport}`);
    await reader.createRoom(room);
    const s = keep(reader.stream({ rooms: [room], transport }));
    try {
      await killAndResume(s, room);
    } finally {
      s.close(); // the next test finds its stream's chatd by its open streams
    }
  });
}

async function killAndResume(s, room) {
  const transport = s.transport;
  await whenLive(s);
  const victim = await holder();
  const senderIndex = CHATD_URLS.findIndex((_, i) => i !== victim && !killed.has(i));
  const sender = await newUser(CHATD_URLS[senderIndex]);
  const got = [];
  s.on('message', (m) => got.push(m.id));
  const sent = [];
  const sendSome = async (n, tag) => {
    for (let i = 0; i < n; i++) sent.push((await sender.send(room, `${tag} ${i}`)).id);
  };
  await sendSome(5, 'before');
  await until(() => got.length === 5, 'the first five messages');

  const down = next(s, 'state', (x) => x === 'reconnecting');
  const up = next(s, 'live');
  const t0 = Date.now();
  process.kill(CHATD_PIDS[victim], 'SIGKILL');
  killed.add(victim);
  const trace = [];
  s.on('state', (x) => trace.push(`${Date.now() - t0} ms ${x}`));
  s.on('error', (e) => trace.push(`${Date.now() - t0} ms error ${e.status} ${e.code}`));
  await down;
  await sendSome(5, 'while reconnecting');
  await up.catch((e) => { throw new Error(`${e.message}: ${trace.join(', ')}`); });
  const back = Date.now() - t0;
  assert.notEqual(await holder(), victim);
  await sendSome(6, 'after'); // a duplicate of an earlier one would come before the last
  await until(() => got.includes(sent[sent.length - 1]), 'the last message');
  assert.deepEqual(got, sent, 'every message, once, in order');
  console.log(`# ${transport}: live again through HAProxy ${back} ms after the kill; 16 of 16 messages, 0 duplicates`);
}
