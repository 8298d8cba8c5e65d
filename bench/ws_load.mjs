// ws_load: GET /ws beside the REST and SSE paths, from Node with npm's ws
// (tests/ws/node_modules: run tests/ws/run.sh, or npm ci there, first).
//
// usage: node bench/ws_load.mjs acks   BASE_URL AUTH_KEY SECONDS WINDOW
//        node bench/ws_load.mjs fanout BASE_URL AUTH_KEY ws|sse SUBSCRIBERS MESSAGES
//        node bench/ws_load.mjs idle   BASE_URL AUTH_KEY ws|sse SUBSCRIBERS CHATD_PID
//
// acks: one WebSocket sends to the lobby for SECONDS with WINDOW sends in
// flight, each with its own clientMsgId; prints "acks_per_s N".
// fanout: SUBSCRIBERS clients follow the lobby (WebSockets, or SSE streams
// GET /message/stream), then MESSAGES messages are POSTed 100 ms apart;
// each delivery's delay is the receive time minus the message's timestamp
// (chatd's receive time of the POST, same clock); prints "p50_ms", "p99_ms",
// "max_ms" and "lost" (deliveries missing 10 s after the last send).
// idle: opens SUBSCRIBERS idle clients and prints chatd's VmRSS before and
// after, and "rss_per_client_bytes".
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../tests/ws/package.json', import.meta.url));
const WebSocket = require('ws');
const [mode, base, authKey, ...rest] = process.argv.slice(2);
const wsUrl = base.replace(/^http/, 'ws') + '/ws';
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function openWs(onMessage) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, { headers: { Cookie: `authKey=${authKey}` }, perMessageDeflate: false });
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      if (m.type === 'ready') ws.send(JSON.stringify({ type: 'subscribe', room: 'lobby' }));
      else if (m.type === 'subscribed') resolve(ws);
      else onMessage(m);
    });
    ws.on('error', reject);
  });
}

function openSse(onMessage) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}/message/stream`, { agent }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        buf += d;
        let end;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const event = buf.slice(0, end);
          buf = buf.slice(end + 2);
          if (event.includes(': connected')) resolve(req);
          const data = event.split('\n').find((l) => l.startsWith('data: '));
          if (data) onMessage(JSON.parse(data.slice(6)));
        }
      });
    });
    req.on('error', reject);
  });
}

async function openMany(kind, n, onMessage) {
  const clients = [];
  for (let i = 0; i < n; i += 100) {
    const batch = [];
    for (let k = i; k < Math.min(n, i + 100); k++) batch.push(kind === 'ws' ? openWs(onMessage) : openSse(onMessage));
    clients.push(...(await Promise.all(batch)));
  }
  return clients;
}

function post(text) {
  return fetch(`${base}/message/`, { method: 'POST', headers: { 'Content-Type': 'application/json', Cookie: `authKey=${authKey}` },
    body: JSON.stringify({ text }) });
}

async function acks(seconds, window) {
  let acked = 0, next = 0;
  const ws = await openWs((m) => {
    if (m.type !== 'ack') return;
    acked++;
    if (Date.now() < end) ws.send(JSON.stringify({ type: 'send', room: 'lobby', text: 'Hello from the bench: a message of ordinary length.', clientMsgId: `b-${process.pid}-${next++}` }));
  });
  const start = Date.now(), end = start + seconds * 1000;
  for (let i = 0; i < window; i++) ws.send(JSON.stringify({ type: 'send', room: 'lobby', text: 'Hello from the bench: a message of ordinary length.', clientMsgId: `b-${process.pid}-${next++}` }));
  while (Date.now() < end) await sleep(50);
  await sleep(500);
  console.log(`acks_per_s ${Math.round(acked / ((Date.now() - 500 - start) / 1000))}`);
  ws.terminate();
}

async function fanout(kind, subs, messages) {
  const delays = [];
  const wanted = new Set();
  const clients = await openMany(kind, subs, (m) => {
    if (wanted.has(m.text)) delays.push(Date.now() - m.timestamp);
  });
  for (let i = 0; i < messages; i++) {
    const text = `fanout ${process.pid} ${i}`;
    wanted.add(text);
    await post(text);
    await sleep(100);
  }
  const deadline = Date.now() + 10000;
  while (delays.length < subs * messages && Date.now() < deadline) await sleep(50);
  delays.sort((a, b) => a - b);
  const at = (q) => delays[Math.min(delays.length - 1, Math.floor(q * delays.length))];
  console.log(`p50_ms ${at(0.5)}\np99_ms ${at(0.99)}\nmax_ms ${delays[delays.length - 1]}\nlost ${subs * messages - delays.length}`);
  for (const c of clients) (c.terminate || c.destroy).call(c);
}

function rss(pid) {
  return Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]) * 1024;
}

async function idle(kind, subs, pid) {
  const before = rss(pid);
  const clients = await openMany(kind, subs, () => {});
  await sleep(1000);
  const after = rss(pid);
  console.log(`rss_before ${before}\nrss_after ${after}\nrss_per_client_bytes ${Math.round((after - before) / subs)}`);
  for (const c of clients) (c.terminate || c.destroy).call(c);
}

if (mode === 'acks') await acks(Number(rest[0]), Number(rest[1]));
else if (mode === 'fanout') await fanout(rest[0], Number(rest[1]), Number(rest[2]));
else if (mode === 'idle') await idle(rest[0], Number(rest[1]), Number(rest[2]));
else { console.error('usage: see the top of bench/ws_load.mjs'); process.exit(2); }
process.exit(0);
