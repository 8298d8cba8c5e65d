// The web client's live connection: a WebSocket on /ws where it can, and
// the event stream (GET /stream) by itself where a WebSocket cannot be
// opened, forced here by answering the page's WebSocket with an immediate
// close (Playwright's routeWebSocket: the upgrade never reaches HAProxy).
// Either way a message sent by someone else shows live, once, and one
// sent from the page shows once: over the WebSocket (a `send` frame
// answered by its `ack`, no POST) where there is one, else by POST.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  URL, launch, registerApi, sendApi, newPage, registerUi, uniqueEmail, waitForText, waitUntil, shownTexts, sendUi,
} from './lib.mjs';

let browser;

before(async () => {
  assert.ok(URL, 'E2E_URL is set (run tests/e2e/run.sh)');
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
});

// Opens the lobby as a new user; records the page's WebSockets, the send
// frames it wrote and the acks it got, and its event stream requests and
// POSTs of messages. block: every WebSocket is closed before it opens. The
// lobby holds a message first, so that the page's first page ends at an
// id and its live connection resumes from there: a message sent while it
// opens is not missed.
async function openLobby(block) {
  const { cookie } = await registerApi('transport-seed', 'Seed');
  const seed = `seed ${process.pid} ${Date.now()}`;
  await sendApi(cookie, 'lobby', seed);
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await newPage(context);
  const seen = { sockets: [], streams: 0, ready: false, sendFrames: [], acks: [], posts: [] };
  if (block) await page.routeWebSocket(/\/ws$/, (ws) => ws.close({ code: 1011, reason: 'blocked' }));
  const parse = (f) => { try { return JSON.parse(String(f.payload)); } catch { return {}; } };
  page.on('websocket', (ws) => {
    seen.sockets.push(ws.url());
    ws.on('framereceived', (f) => {
      const m = parse(f);
      if (m.type === 'ready') seen.ready = true;
      if (m.type === 'ack') seen.acks.push(m);
    });
    ws.on('framesent', (f) => {
      const m = parse(f);
      if (m.type === 'send') seen.sendFrames.push(m);
    });
  });
  page.on('request', (r) => {
    if (r.url().includes('/stream?')) seen.streams++;
    if (r.method() === 'POST' && /\/message\/$/.test(new globalThis.URL(r.url()).pathname)) seen.posts.push(r.url());
  });
  await page.goto(`${URL}/#lobby`);
  await registerUi(page, uniqueEmail('transport'), 'Tess');
  await waitForText(page, seed);
  return { context, page, seen };
}

async function liveMessageShows(page) {
  const { cookie } = await registerApi('transport-sender', 'Sid');
  const text = `live ${process.pid} ${Date.now()}`;
  await sendApi(cookie, 'lobby', text);
  await waitForText(page, text);
  assert.equal((await shownTexts(page)).filter((t) => t === text).length, 1, 'shown once');
}

// Sends a message from the page's composer; waits until it is shown.
async function sendFromPage(page) {
  const text = `from the page ${process.pid} ${Date.now()}`;
  await sendUi(page, text);
  await waitForText(page, text);
  assert.equal((await shownTexts(page)).filter((t) => t === text).length, 1, 'shown once');
  return text;
}

test('the page follows its rooms over a WebSocket', { timeout: 60000 }, async () => {
  const { context, page, seen } = await openLobby(false);
  await waitUntil('the WebSocket to be ready', () => seen.ready);
  await liveMessageShows(page);
  assert.ok(seen.sockets.some((u) => u.endsWith('/ws')), 'a WebSocket on /ws');
  assert.equal(seen.streams, 0, 'no event stream');
  const text = await sendFromPage(page);
  const frame = seen.sendFrames.find((m) => m.text === text);
  assert.ok(frame, 'the send went over the WebSocket');
  assert.deepEqual([frame.room, typeof frame.clientMsgId], ['lobby', 'string']);
  const ack = await waitUntil('its ack', () => seen.acks.find((m) => m.clientMsgId === frame.clientMsgId));
  assert.equal(ack.message.text, text);
  assert.deepEqual(seen.posts, [], 'no POST of a message');
  assert.deepEqual(page.problems, []);
  await context.close();
});

test('without a WebSocket the page falls back to the event stream by itself', { timeout: 60000 }, async () => {
  const { context, page, seen } = await openLobby(true);
  await waitUntil('an event stream', () => seen.streams > 0);
  await liveMessageShows(page);
  assert.equal(seen.ready, false, 'no WebSocket got ready');
  await sendFromPage(page);
  assert.equal(seen.posts.length, 1, 'the send went by POST');
  assert.deepEqual(seen.sendFrames, [], 'and over no WebSocket');
  assert.deepEqual(page.problems, []);
  await context.close();
});
