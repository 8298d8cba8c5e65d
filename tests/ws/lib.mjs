// Helpers of the WebSocket tests: the system under test (from the
// environment tests/ws/run.sh sets), the REST API for accounts, rooms and
// sends, a WebSocket client (npm's ws) that queues what it receives, and a
// raw TCP client for frames no WebSocket library would send.
import WebSocket from 'ws';
import net from 'node:net';
import crypto from 'node:crypto';

export const CHATD_URLS = (process.env.WS_CHATD_URLS || '').split(' ').filter(Boolean);
export const CHATD_PIDS = (process.env.WS_CHATD_PIDS || '').split(' ').filter(Boolean).map(Number);
export const LB_URL = process.env.WS_LB_URL;
export const TLS_URL = process.env.WS_TLS_URL;
export const LB_STATS = process.env.WS_LB_STATS;
export const PASSWORD = 'correct horse battery';
export const WAIT_MS = 10000; // the bound of every wait for an event

let counter = 0;
const open = new Set(); // every client made, for closeAll

// Ends every client still open (a failed test leaves some): after().
export function closeAll() {
  for (const c of open) c.destroy();
  open.clear();
}
export function unique(tag) {
  return `${tag}-${process.pid}-${Date.now()}-${++counter}`;
}

// One REST call; returns {status, data, headers}.
export async function api(base, method, path, { body, key } = {}) {
  const headers = {};
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, data: text ? JSON.parse(text) : null, headers: res.headers };
}

// Registers a user; returns its session token (authKey).
export async function register(base, name = 'ws tester') {
  const r = await api(base, 'POST', '/user/', { body: { email: `${unique('ws')}@example.com`, password: PASSWORD, name } });
  if (r.status !== 201) throw new Error(`register: ${r.status} ${JSON.stringify(r.data)}`);
  return r.data.authKey;
}

// Creates a room named after tag; returns its name.
export async function createRoom(base, key, tag = 'room') {
  const name = unique(tag).toLowerCase().replace(/[^a-z0-9_-]/g, '-').slice(0, 64);
  const r = await api(base, 'POST', '/room/', { body: { name }, key });
  if (r.status !== 201) throw new Error(`room: ${r.status} ${JSON.stringify(r.data)}`);
  return name;
}

export function wsUrl(base) {
  return base.replace(/^http/, 'ws') + '/ws';
}

// Resolves when cond() is true, polling every 20 ms; rejects after ms.
export async function until(cond, what, ms = WAIT_MS) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// A WebSocket client that keeps every message it receives (parsed JSON) and
// its close code. open() resolves once the upgrade is answered.
export class Client {
  constructor(base, { cookie, headers = {}, ca, query = '' } = {}) {
    if (cookie) headers.Cookie = `authKey=${cookie}`;
    this.messages = [];
    this.pings = 0;
    this.closed = null; // {code, reason} once closed
    this.ws = new WebSocket(wsUrl(base) + query, { headers, ca, perMessageDeflate: false });
    open.add(this);
    this.ws.on('message', (data, binary) => this.messages.push(binary ? data : JSON.parse(data.toString())));
    this.ws.on('ping', () => this.pings++);
    this.ws.on('close', (code, reason) => { this.closed = { code, reason: reason.toString() }; });
    this.ws.on('error', (err) => { this.error = err; });
  }

  open() {
    return new Promise((resolve, reject) => {
      this.ws.once('upgrade', (res) => { this.requestId = res.headers['x-request-id']; });
      this.ws.once('open', resolve);
      this.ws.once('unexpected-response', (req, res) => {
        let body = '';
        res.on('data', (d) => { body += d; });
        res.on('end', () => reject(Object.assign(new Error(`status ${res.statusCode}: ${body}`), { status: res.statusCode, body, headers: res.headers })));
      });
      this.ws.once('error', reject);
    });
  }

  send(obj) {
    this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  }

  // The first message (from index from on) that matches pred.
  async next(pred, what, from = 0) {
    let found;
    await until(() => (found = this.messages.slice(from).find(pred)) !== undefined || this.closed !== null, what);
    if (found === undefined) throw new Error(`closed (${JSON.stringify(this.closed)}) before ${what}`);
    return found;
  }

  async closeCode() {
    await until(() => this.closed !== null, 'the close');
    return this.closed.code;
  }

  close() {
    if (this.closed === null) this.ws.close(1000);
  }

  destroy() {
    this.ws.terminate();
  }
}

// Opens a client authenticated with key (as a cookie) and waits for ready.
export async function connect(base, key) {
  const c = new Client(base, { cookie: key });
  await c.open();
  await c.next((m) => m.type === 'ready', 'ready');
  return c;
}

// A raw TCP client that does the handshake itself and then writes any
// bytes: for frames a WebSocket library refuses to make. closeCode()
// reads the server's close frame.
export class RawClient {
  constructor(base) {
    const u = new URL(base);
    this.host = u.hostname;
    this.port = Number(u.port);
    this.buf = Buffer.alloc(0);
    this.ended = false;
    open.add(this);
  }

  open(key) {
    return new Promise((resolve, reject) => {
      this.sock = net.connect(this.port, this.host, () => {
        this.sock.write(`GET /ws HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\n` +
          `Cookie: authKey=${key}\r\n\r\n`);
      });
      this.sock.on('data', (d) => {
        this.buf = Buffer.concat([this.buf, d]);
        const end = this.buf.indexOf('\r\n\r\n');
        if (!this.head && end >= 0) {
          this.head = this.buf.subarray(0, end).toString();
          this.buf = this.buf.subarray(end + 4);
          if (this.head.startsWith('HTTP/1.1 101')) resolve();
          else reject(new Error(this.head));
        }
      });
      this.sock.on('end', () => { this.ended = true; });
      this.sock.on('close', () => { this.ended = true; });
      this.sock.on('error', () => { this.ended = true; });
    });
  }

  write(bytes) {
    this.sock.write(Buffer.from(bytes));
  }

  // The server's frames so far: [{opcode, payload}].
  frames() {
    const out = [];
    let b = this.buf;
    while (b.length >= 2) {
      let len = b[1] & 0x7f, off = 2;
      if (len === 126) { if (b.length < 4) break; len = b.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (b.length < 10) break; len = Number(b.readBigUInt64BE(2)); off = 10; }
      if (b.length < off + len) break;
      out.push({ opcode: b[0] & 0x0f, payload: b.subarray(off, off + len) });
      b = b.subarray(off + len);
    }
    return out;
  }

  // The close frame's code; 1005 (RFC 6455 7.4.1: "no status code was
  // present") for a close frame without one.
  async closeCode() {
    const close = () => this.frames().find((f) => f.opcode === 8);
    await until(() => close() !== undefined || this.ended, 'a close frame');
    if (!close()) throw new Error('the connection ended without a close frame');
    return close().payload.length >= 2 ? close().payload.readUInt16BE(0) : 1005;
  }

  destroy() {
    this.sock.destroy();
  }
}

// A client frame: fin, opcode, payload; masked unless mask === false.
export function frame(opcode, payload, { fin = true, mask = true, rsv = 0 } = {}) {
  const data = Buffer.from(payload);
  const head = [(fin ? 0x80 : 0) | (rsv << 4) | opcode];
  if (data.length < 126) head.push((mask ? 0x80 : 0) | data.length);
  else head.push((mask ? 0x80 : 0) | 126, data.length >> 8, data.length & 0xff);
  if (!mask) return Buffer.concat([Buffer.from(head), data]);
  const key = crypto.randomBytes(4);
  const masked = Buffer.from(data.map((byte, i) => byte ^ key[i % 4]));
  return Buffer.concat([Buffer.from(head), key, masked]);
}
