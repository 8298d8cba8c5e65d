// rooms_load: event streams on many rooms of one or more chatd, then
// messages into random rooms of them, timing each delivery.
//
// usage: node bench/rooms_load.mjs BASE_URL[,BASE_URL...] AUTH_KEY STREAMS MESSAGES
//                                  [ROOMS [ROOMS_PER_STREAM]]
//
// ROOMS (default STREAMS) distinct rooms, bench-0 ... bench-<ROOMS-1>. With
// ROOMS_PER_STREAM 1 (the default), stream n is GET /room/bench-<n % ROOMS>/
// message/stream: ROOMS=1 puts every stream on one room (the memory of the
// streams alone, for the memory of the room readers by difference). With
// ROOMS_PER_STREAM k > 1, stream n is GET /stream?rooms= of the k rooms
// from n * k on (the multi-room stream, at most 32 rooms): many rooms with
// few connections. Stream n goes to the n-th BASE_URL, counting round, and
// a message into room i to the chatd of i's first stream.
//
// It opens the streams (200 at a time), prints "ready N" once every stream
// sent its first line, waits for a line on stdin (the bench takes chatd's
// memory and Redis's client list then), then POSTs MESSAGES messages, one at
// a time, each to a random room, and times the send until a stream delivers
// it. Last it prints "p50_ms X", "p99_ms Y", "max_ms Z" and "lost N"
// (deliveries not seen within 10 s) and exits; the exit status is 0 only when
// nothing was lost.
import http from 'node:http';
import readline from 'node:readline';

const [basesArg, authKey, streamsArg, messagesArg, roomsArg, perStreamArg] = process.argv.slice(2);
const bases = basesArg.split(',').map((b) => new URL(b));
const streams = Number(streamsArg), messages = Number(messagesArg);
const rooms = Number(roomsArg || streamsArg), perStream = Number(perStreamArg || 1);
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
let pending = null; // { text, resolve } of the delivery awaited

function streamPath(n) {
  if (perStream === 1) return `/room/bench-${n % rooms}/message/stream`;
  const names = [];
  for (let j = 0; j < perStream; j++) names.push(`bench-${(n * perStream + j) % rooms}`);
  return `/stream?rooms=${names.join(',')}`;
}

// The chatd that follows room i (the one of its first stream).
function baseOfRoom(i) {
  return bases[(perStream === 1 ? i : Math.floor(i / perStream)) % bases.length];
}

function openStream(n) {
  const url = bases[n % bases.length];
  return new Promise((resolve, reject) => {
    const req = http.get({ host: url.hostname, port: url.port, agent, path: streamPath(n),
      headers: { Accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`stream ${n}: ${res.statusCode}`));
      res.setEncoding('utf8');
      let started = false;
      res.on('data', (chunk) => {
        if (!started) { started = true; resolve(); }
        if (pending && chunk.includes(pending.text)) pending.resolve();
      });
    });
    req.on('error', reject);
  });
}

function post(i, text) {
  const url = baseOfRoom(i);
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

for (let n = 0; n < streams; n += 200) {
  const batch = [];
  for (let j = n; j < Math.min(streams, n + 200); j++) batch.push(openStream(j));
  await Promise.all(batch);
}
console.log(`ready ${streams}`);
await new Promise((resolve) => readline.createInterface({ input: process.stdin }).once('line', resolve));

const times = [];
let lost = 0;
for (let m = 0; m < messages; m++) {
  const i = Math.floor(Math.random() * rooms);
  const text = `rooms-bench-${m}-`; // the dash ends the number: 1 is not 10
  const t0 = process.hrtime.bigint();
  const delivered = new Promise((resolve) => { pending = { text, resolve }; });
  const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), 10000));
  await post(i, text);
  const how = await Promise.race([delivered, timeout]);
  pending = null;
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
