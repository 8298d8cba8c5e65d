// ws_load: sends over one WebSocket (GET /ws) as fast as chatd acknowledges
// them, the WebSocket side of make bench's ws scenario (bench/scenario_ws.sh;
// the fan-out and the idle clients are build/sse_load's, with a ws:// URL).
// From Node with npm's ws (tests/ws/node_modules: npm ci there first).
//
// usage: node bench/ws_load.mjs BASE_URL AUTH_KEY SECONDS WINDOW
//
// One WebSocket with the session cookie sends to the lobby for SECONDS with
// WINDOW sends in flight, each with its own clientMsgId: every ack sends the
// next one. It prints "acks_per_s N" (acks counted in the SECONDS, divided by
// them), "latency_ms p50 X p99 Y" (a send's write to its ack) and "errors N"
// (error answers and acks missing at the end); exit status 1 when there were.
import { createRequire } from 'node:module';

const require = createRequire(new URL('../tests/ws/package.json', import.meta.url));
const WebSocket = require('ws');
const [base, authKey, secondsArg, windowArg] = process.argv.slice(2);
if (!base || !authKey || !(Number(secondsArg) > 0) || !(Number(windowArg) > 0)) {
  console.error('usage: node bench/ws_load.mjs BASE_URL AUTH_KEY SECONDS WINDOW');
  process.exit(2);
}
const seconds = Number(secondsArg), window = Number(windowArg);
const text = 'Hello from the bench: a benchmark message of ordinary length.';

const ws = new WebSocket(base.replace(/^http/, 'ws') + '/ws',
  { headers: { Cookie: `authKey=${authKey}` }, perMessageDeflate: false });
const sentAt = new Map(); // clientMsgId -> when it was written
const latencies = [];
let next = 0, acked = 0, errors = 0, start = 0, end = 0;

function send() {
  const id = `b-${process.pid}-${next++}`;
  sentAt.set(id, performance.now());
  ws.send(JSON.stringify({ type: 'send', room: 'lobby', text, clientMsgId: id }));
}

function finish() {
  latencies.sort((a, b) => a - b);
  const at = (q) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)] : 0);
  console.log(`acks_per_s ${Math.round(acked / seconds)}`);
  console.log(`latency_ms p50 ${at(0.5).toFixed(2)} p99 ${at(0.99).toFixed(2)}`);
  console.log(`errors ${errors + sentAt.size}`);
  ws.terminate();
  process.exit(errors + sentAt.size ? 1 : 0);
}

ws.on('message', (data) => {
  const m = JSON.parse(data.toString());
  if (m.type === 'ready') {
    start = performance.now();
    end = start + seconds * 1000;
    for (let i = 0; i < window; i++) send();
    return;
  }
  if (m.type !== 'ack' && m.type !== 'error') return;
  const now = performance.now();
  if (m.type === 'error') {
    errors++;
    if (errors <= 5) console.error(`ws_load: ${data}`);
  } else if (now <= end) {
    acked++;
    latencies.push(now - sentAt.get(m.clientMsgId));
  }
  sentAt.delete(m.clientMsgId);
  if (now < end) send();
  else if (sentAt.size === 0) finish();
});
ws.on('error', (e) => {
  console.error(`ws_load: ${e.message}`);
  process.exit(1);
});
ws.on('close', (code) => {
  console.error(`ws_load: the WebSocket closed (${code})`);
  process.exit(1);
});
setTimeout(finish, (seconds + 10) * 1000).unref();
