// A checking proxy: node proxy.mjs REPORT PORT=UPSTREAM_URL ... listens on
// each loopback PORT, passes every request to its chatd unchanged (Host
// included, so the Origin check sees what the client sent) and the answer
// back as it comes (event streams and long-polls are not held up), and
// checks each answer against docs/openapi.yaml (contract.mjs). On SIGTERM it
// writes REPORT, JSON: how many answers, the problems, and the
// "METHOD /path STATUS" seen, then exits. It prints "ready" when it listens.
import http from 'node:http';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { top } from './lib.mjs';
import { loadContract, matchPath, answerProblems, sseReader } from './contract.mjs';

const [reportPath, ...listeners] = process.argv.slice(2);
const contract = await loadContract(`${top}/docs/openapi.yaml`);
const report = { answers: 0, problems: [], seen: {} };
// One upstream connection per request: a kept-alive one that chatd closes
// as idle just when a request is sent on it would fail that request.
const agent = new http.Agent({ keepAlive: false });

function record(req, answer) {
  report.answers++;
  const path = matchPath(contract, req.url) ?? req.url.split('?')[0];
  const key = `${req.method} ${path} ${answer.status}`;
  report.seen[key] = (report.seen[key] ?? 0) + 1;
  for (const problem of answerProblems(contract, req, answer))
    report.problems.push(`${req.method} ${req.url} -> ${answer.status}: ${problem}`);
}

function relay(upstream, req, res) {
  const out = http.request(upstream, {
    method: req.method, path: req.url, headers: req.headers, agent,
  });
  out.on('response', (answer) => {
    res.writeHead(answer.statusCode, answer.rawHeaders);
    res.flushHeaders();
    const type = String(answer.headers['content-type'] ?? '');
    const sse = type.startsWith('text/event-stream') ? sseReader() : null;
    const decoder = new StringDecoder('utf8');
    const seen = { status: answer.statusCode, headers: answer.headers, body: '', events: [] };
    answer.on('data', (chunk) => {
      res.write(chunk);
      const text = decoder.write(chunk);
      if (sse) seen.events.push(...sse.feed(text));
      else seen.body += text;
    });
    let ended = false;
    answer.on('end', () => { ended = true; res.end(); record(req, seen); });
    // The answer was cut (by chatd: a slow reader, a failed read; or the
    // client left a stream): so is the client's, and what came until then
    // is still checked, except an unfinished JSON body.
    answer.on('close', () => {
      if (ended) return;
      res.destroy();
      record(req, sse ? seen : { ...seen, body: undefined });
    });
  });
  out.on('error', (err) => {
    report.problems.push(`${req.method} ${req.url}: the upstream failed (${err.code ?? err.message})`);
    res.destroy();
  });
  req.pipe(out);
  res.on('close', () => { if (!res.writableFinished) out.destroy(); });
}

// The head of an HTTP/1.1 answer in bytes, once it is all there and its
// body (Content-Length) too: {status, headers, body}; else null.
function parseAnswer(bytes) {
  const text = bytes.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const headers = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const status = Number(statusLine.split(' ')[1]);
  const length = status === 101 ? 0 : Number(headers['content-length'] ?? 0);
  const body = bytes.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1'));
  if (body.length < length) return null;
  return { status, headers, body: body.subarray(0, length).toString('utf8') };
}

// GET /ws with an Upgrade header: the bytes go through both ways; the first
// answer (the 101, or a JSON refusal) is checked like any other.
function tunnel(upstream, req, socket, head) {
  const url = new URL(upstream);
  const out = net.connect(Number(url.port), url.hostname, () => {
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    out.write(`${lines.join('\r\n')}\r\n\r\n`);
    out.write(head);
    let first = Buffer.alloc(0);
    const watch = (bytes) => {
      first = Buffer.concat([first, bytes]);
      const answer = parseAnswer(first);
      if (!answer) return;
      out.off('data', watch);
      record(req, answer);
    };
    out.on('data', watch);
    out.pipe(socket);
    socket.pipe(out);
  });
  const end = () => { out.destroy(); socket.destroy(); };
  out.on('error', end);
  socket.on('error', end);
}

const servers = listeners.map((pair) => {
  const [port, upstream] = pair.split(/=(.*)/s);
  const server = http.createServer({ maxHeaderSize: 128 * 1024, keepAliveTimeout: 30000 },
    (req, res) => relay(upstream, req, res));
  server.on('upgrade', (req, socket, head) => tunnel(upstream, req, socket, head));
  return new Promise((resolve) => server.listen(Number(port), '127.0.0.1', () => resolve(server)));
});
await Promise.all(servers);
console.log('ready');

process.on('SIGTERM', () => {
  writeFileSync(reportPath, JSON.stringify(report, null, 1));
  process.exit(0);
});
