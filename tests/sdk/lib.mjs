// Helpers of the client's tests: the system under test (from the
// environment run.sh sets), users and rooms made through the client itself,
// more chatd processes on the same Redis (started, killed with SIGKILL and
// started again on the same port), a TCP relay that can drop a connection
// after the server answered, and waits on events with a bound.
import { after } from 'node:test';
import { spawn } from 'node:child_process';
import net from 'node:net';
import fs from 'node:fs';
import crypto from 'node:crypto';
import WebSocket from 'ws';
import assert from 'node:assert/strict';
import { ChatClient, ChatError } from '../../web/clusterchat.js';

export const URL_A = process.env.SDK_URL;
export const PASSWORD = 'correct horse battery';
export const WAIT_MS = 15000; // the bound of every wait for an event

// Streams and chatd a test file made, closed after its last test (also
// when a test failed half-way).
const kept = [];
after(async () => {
  for (const x of kept.reverse()) await x.close();
});

/** Keeps x (anything with close()) to be closed after the file's tests. */
export function keep(x) {
  kept.push(x);
  return x;
}

let counter = 0;
export function unique(tag) {
  return `${tag}-${process.pid}-${Date.now()}-${++counter}`.toLowerCase().replace(/[^a-z0-9_-]/g, '-').slice(0, 64);
}

/** A client of base (chatd A by default) with npm's ws as its WebSocket. */
export function client(base = URL_A, options = {}) {
  return new ChatClient({ baseUrl: base, WebSocket, ...options });
}

/** A new registered and logged-in client. */
export async function newUser(base = URL_A, options = {}) {
  const c = client(base, options);
  const email = `${unique('sdk')}@example.com`;
  await c.register({ email, password: PASSWORD, name: options.name || 'sdk tester' });
  c.email = email;
  return c;
}

/** Resolves when cond() is true, polling every 20 ms; rejects after ms. */
export async function until(cond, what, ms = WAIT_MS) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Resolves with the next event of kind on emitter, or rejects after ms. */
export function next(emitter, kind, test = () => true, ms = WAIT_MS) {
  return Promise.race([
    emitter.once(kind, test),
    new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for "${kind}"`)), ms).unref()),
  ]);
}

/** Resolves when stream is live (at once when it is). */
export function whenLive(stream, ms = WAIT_MS) {
  return stream.state === 'live' ? Promise.resolve() : next(stream, 'live', () => true, ms);
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const children = new Set();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });

/**
 * A chatd of our own on the same Redis: start() (waits for /health), kill()
 * with SIGKILL, start() again on the same port; close() at the end.
 */
export class Chatd {
  constructor(port, args = [], env = {}) {
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.args = args;
    this.env = env;
    this.proc = null;
    this.log = `${process.env.SDK_TMP}/chatd-${port}.log`;
  }

  async start() {
    const out = fs.openSync(this.log, 'a');
    this.proc = spawn(process.env.SDK_CHATD, ['--bind', '127.0.0.1', '--port', String(this.port),
      '--redis', `127.0.0.1:${process.env.SDK_REDIS_PORT}`, '--workers', '1', ...this.args],
    { stdio: ['ignore', out, out], env: { ...process.env, ...this.env } });
    fs.closeSync(out);
    children.add(this.proc);
    const proc = this.proc;
    proc.on('exit', () => children.delete(proc));
    await until(async () => {
      try { return (await fetch(this.url + '/health')).ok; } catch (e) { return false; }
    }, `chatd on ${this.port} to answer /health`);
  }

  /** kill -9, and waits until the process is gone. */
  async kill() {
    const proc = this.proc;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await gone;
  }

  async close() {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode) return;
    const gone = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    await gone;
  }
}

/** Starts a chatd on a free port (stopped after the file's tests). */
export async function startChatd(args = [], env = {}) {
  const d = keep(new Chatd(await freePort(), args, env));
  await d.start();
  return d;
}

/**
 * A TCP relay to target's port. dropAnswers(n): the next n answers of chatd
 * (on any connection) are not passed on; their connection is cut as soon as
 * the answer starts, so the client never sees it (the request was served).
 */
export async function relay(targetPort) {
  let toDrop = 0;
  let dropped = 0;
  const sockets = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    upstream.on('data', (chunk) => {
      if (toDrop > 0) {
        toDrop--;
        dropped++;
        client.destroy();
        upstream.destroy();
      } else {
        client.write(chunk);
      }
    });
    upstream.on('end', () => client.end());
    const close = () => { client.destroy(); upstream.destroy(); };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    dropAnswers(n) { toDrop = n; },
    get dropped() { return dropped; },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(r));
    },
  };
}

/** An HS256 JWT for chatd's --jwt-key secret (as an application's backend makes one). */
export function mintToken(claims) {
  const secret = fs.readFileSync(process.env.SDK_JWT_SECRET_FILE);
  const b64 = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
  const head = b64({ alg: 'HS256', typ: 'JWT' });
  const body = b64({ exp: Math.floor(Date.now() / 1000) + 600, ...claims });
  const sig = crypto.createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

// With no retry budget left, three sends into a room over its rate limit:
// at least one is refused, each refusal a ChatError 429 rate_limited with
// its retryAfter. Returns the refusals for the caller's own checks.
export async function refusedOverLimit(c, room) {
  c.retryBudgetMs = 0;
  const over = await Promise.allSettled(['d', 'e', 'f'].map((t) => c.send(room, t)));
  const refused = over.filter((x) => x.status === 'rejected').map((x) => x.reason);
  assert.ok(refused.length >= 1);
  for (const e of refused) {
    assert.ok(e instanceof ChatError);
    assert.deepEqual([e.status, e.code], [429, 'rate_limited']);
    assert.ok(e.retryAfter >= 1);
  }
  return refused;
}
