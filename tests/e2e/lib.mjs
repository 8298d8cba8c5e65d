// Helpers of the browser tests: the system under test (from the environment
// tests/e2e/run.sh sets), Chromium through playwright-core, the REST API for
// seeding messages, chatd's /metrics, and the page's state.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const URL = process.env.E2E_URL; // HTTPS (HTTP/2), see run.sh
export const HTTP_URL = process.env.E2E_HTTP_URL; // the same system over plain HTTP
export const CHATD_URLS = (process.env.E2E_CHATD_URLS || '').split(' ').filter(Boolean);
export const CHATD_PIDS = (process.env.E2E_CHATD_PIDS || '').split(' ').filter(Boolean).map(Number);
export const ARTIFACTS = process.env.E2E_ARTIFACTS || 'build/e2e-artifacts';
export const PASSWORD = 'correct horse battery';

// Headless Chromium as it works on a build machine: no sandbox (root), no
// GPU, and none of the background traffic that would stall on a machine
// without internet access. Playwright gives it a fresh profile folder.
// It accepts the self-signed certificate of the HTTPS address.
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--ignore-certificate-errors',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

let counter = 0;
export function uniqueEmail(tag) {
  return `${tag}-${process.pid}-${Date.now()}-${++counter}@example.com`;
}

// One API call with fetch (no Origin header, like any program); returns
// {status, data, cookie}. cookie is "authKey=…" from Set-Cookie, if any.
// Like a well-behaved client, it waits out a 429 for as long as Retry-After
// says and asks again (the suite's chatd keep the default message limit).
export async function api(method, path, { body, cookie, headers } = {}) {
  const init = { method, headers: { ...headers } };
  if (cookie) init.headers.Cookie = cookie;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res = await fetch(URL + path, init);
  for (let waits = 0; res.status === 429 && waits < 30; waits++) {
    await res.arrayBuffer();
    const seconds = Math.max(parseInt(res.headers.get('retry-after') || '1', 10) || 1, 1);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    res = await fetch(URL + path, init);
  }
  const text = await res.text();
  const set = res.headers.get('set-cookie');
  return {
    status: res.status,
    data: text ? JSON.parse(text) : null,
    cookie: set ? set.split(';')[0] : null,
  };
}

// Registers a user through the API; returns {user, cookie}.
export async function registerApi(tag, name) {
  const r = await api('POST', '/user/', { body: { email: uniqueEmail(tag), password: PASSWORD, name } });
  if (r.status !== 201) throw new Error(`register: ${r.status} ${JSON.stringify(r.data)}`);
  return { user: r.data, cookie: r.cookie };
}

// Creates room (POST /room/) as a new user: only created rooms take messages
// and streams.
export async function createRoomApi(room) {
  const { cookie } = await registerApi('room-creator', 'Creator');
  const r = await api('POST', '/room/', { body: { name: room }, cookie });
  if (r.status !== 201 && r.status !== 200) throw new Error(`create room: ${r.status} ${JSON.stringify(r.data)}`);
}

// Sends text to room as the user behind cookie; returns the stored message.
export async function sendApi(cookie, room, text) {
  const key = `e2e-${process.pid}-${++counter}`;
  const r = await api('POST', `/room/${room}/message/`, { body: { text }, cookie, headers: { 'Idempotency-Key': key } });
  if (r.status !== 201) throw new Error(`send: ${r.status} ${JSON.stringify(r.data)}`);
  return r.data;
}

// Polls fn every 50 ms until it returns a truthy value (returned), or throws
// after ms milliseconds.
export async function waitUntil(what, fn, ms = 20000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// One sample of each chatd's /metrics, e.g. 'chatd_open_streams' (null for
// a chatd that does not answer or lacks it).
export async function metricOfEach(sample) {
  return Promise.all(CHATD_URLS.map(async (u) => {
    try {
      const text = await (await fetch(u + '/metrics')).text();
      const line = text.split('\n').find((l) => l.startsWith(sample + ' '));
      return line ? Number(line.slice(sample.length + 1)) : null;
    } catch {
      return null;
    }
  }));
}

// The chatd_open_streams gauge of each chatd (null for one that does not answer).
export function openStreams() {
  return metricOfEach('chatd_open_streams');
}

// Resolves when a page of the context opens a live connection whose rooms
// include room (including = true: once that room is followed) or do not
// (false): an EventSource on /stream?rooms=… that answered, or a WebSocket
// on /ws that got "subscribed" for room (true) or for its first room while
// it sent no subscribe for room (false). The web client subscribes to all
// its rooms at once, when the socket is ready.
export function streamOpened(context, room, including = true) {
  return new Promise((resolve) => {
    context.on('response', (res) => {
      if (res.url().includes('/stream?') && decodeURIComponent(res.url()).includes(room) === including) resolve();
    });
    const watch = (page) => page.on('websocket', (ws) => {
      const asked = new Set();
      const parse = (frame) => { try { return JSON.parse(String(frame.payload)); } catch { return {}; } };
      ws.on('framesent', (frame) => {
        const m = parse(frame);
        if (m.type === 'subscribe') asked.add(m.room);
      });
      ws.on('framereceived', (frame) => {
        const m = parse(frame);
        if (m.type !== 'subscribed') return;
        if (including ? m.room === room : !asked.has(room)) resolve();
      });
    });
    context.pages().forEach(watch);
    context.on('page', watch);
  });
}

export function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return page.screenshot({ path: join(ARTIFACTS, name) });
}

// A new page that records uncaught errors and CSP violations, and fails on
// any dialog (alert, confirm): the client never opens one.
export async function newPage(context) {
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push('page error: ' + e.message));
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) page.problems.push('CSP: ' + msg.text());
  });
  page.on('dialog', (d) => {
    page.problems.push(`dialog: ${d.type()} ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  return page;
}

// A page of a new context of browser in room, registered as name:
// {context, page}.
export async function userPageIn(browser, tag, name, room) {
  const context = await browser.newContext();
  const page = await newPage(context);
  await page.goto(`${URL}/#${room}`);
  await registerUi(page, uniqueEmail(tag), name);
  return { context, page };
}

// The message shown on page whose text holds text.
export function messageOf(page, text) {
  return page.locator('#messages li.message', { hasText: text });
}

// The texts of the messages shown, in order.
export function shownTexts(page) {
  return page.$$eval('#messages .text', (nodes) => nodes.map((n) => n.textContent));
}

// Waits until a message with exactly this text is shown.
export function waitForText(page, text, timeout = 20000) {
  return page.waitForFunction(
    (t) => [...document.querySelectorAll('#messages .text')].some((n) => n.textContent === t),
    text, { timeout });
}

// Registers through the page's form and waits for the chat.
export async function registerUi(page, email, name) {
  if (!page.url().startsWith('http')) await page.goto(URL + '/'); // else: the page's own address
  await page.locator('#auth-form').waitFor();
  await page.click('#auth-switch');
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await page.fill('#name', name);
  await page.click('#auth-submit');
  await page.locator('#chat-view').waitFor();
}

// Logs in through the page's form and waits for the chat.
export async function loginUi(page, email, password = PASSWORD) {
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click('#auth-submit');
}

// Types text into the composer and sends it with Enter.
export async function sendUi(page, text) {
  await page.locator('#text').fill(text);
  await page.locator('#text').press('Enter');
}
