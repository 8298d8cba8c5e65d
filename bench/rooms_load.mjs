// rooms_load: one Server-Sent Events stream on each of N rooms of one chatd,
// then messages into random rooms of them, timing each delivery.
//
// usage: node bench/rooms_load.mjs BASE_URL AUTH_KEY STREAMS MESSAGES [ROOMS]
//
// ROOMS (default STREAMS) distinct rooms share the streams: stream i is on
// room i % ROOMS, so ROOMS=1 puts them all on one room (the memory of the
// streams alone, for the memory of the room readers by difference).
//
// It opens GET /room/bench-<i>/message/stream for STREAMS streams (200 at a time),
// prints "ready N" once every stream sent its first line, waits for a line
// on stdin (the bench takes chatd's memory and Redis's client list then),
// then POSTs MESSAGES messages, one at a time, each to a random room, and
// times the send until that room's stream delivers it. Last it prints
// "p50_ms X", "p99_ms Y", "max_ms Z" and "lost N" (deliveries not seen within
// 10 s) and exits; the exit status is 0 only when nothing was lost.
import http from 'node:http';
import readline from 'node:readline';

const [base, authKey, streamsArg, messagesArg, roomsArg] = process.argv.slice(2);
const streams = Number(streamsArg), messages = Number(messagesArg);
const rooms = Number(roomsArg || streamsArg);
const url = new URL(base);
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const waiting = new Map(); // room index -> resolve of the delivery awaited

function openStream(n) {
  const i = n % rooms;
  return new Promise((resolve, reject) => {
    const req = http.get({ host: url.hostname, port: url.port, agent,
      path: `/room/bench-${i}/message/stream`, headers: { Accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`stream ${i}: ${res.statusCode}`));
      res.setEncoding('utf8');
      let started = false;
      res.on('data', (chunk) => {
        if (!started) { started = true; resolve(); }
        const done = waiting.get(i);
        if (done && chunk.includes('rooms-bench-')) done(); // the first of the room's streams
      });
    });
    req.on('error', reject);
  });
}

function post(i, text) {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ text });
    const req = http.request({ host: url.hostname, port: url.port, agent, method: 'POST',
      path: `/room/bench-${i}/message/`, headers: { 'Content-Type': 'application/json',
        Cookie: `authKey=${authKey}`, 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 201 ? resolve() : reject(new Error(`POST ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function quantile(sorted, q) { return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]; }

for (let i = 0; i < streams; i += 200) {
  const batch = [];
  for (let j = i; j < Math.min(streams, i + 200); j++) batch.push(openStream(j));
  await Promise.all(batch);
}
console.log(`ready ${streams}`);
await new Promise((resolve) => readline.createInterface({ input: process.stdin }).once('line', resolve));

const times = [];
let lost = 0;
for (let m = 0; m < messages; m++) {
  const i = Math.floor(Math.random() * rooms);
  const t0 = process.hrtime.bigint();
  const delivered = new Promise((resolve) => waiting.set(i, resolve));
  const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), 10000));
  await post(i, `rooms-bench-${m}`);
  const how = await Promise.race([delivered, timeout]);
  waiting.delete(i);
  if (how === 'timeout') lost++;
  else times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  await new Promise((resolve) => setTimeout(resolve, 20));
}
times.sort((a, b) => a - b);
console.log(`p50_ms ${quantile(times, 0.5).toFixed(2)}`);
console.log(`p99_ms ${quantile(times, 0.99).toFixed(2)}`);
console.log(`max_ms ${times[times.length - 1].toFixed(2)}`);
console.log(`lost ${lost}`);
process.exit(lost === 0 ? 0 : 1);
