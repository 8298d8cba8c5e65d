// Many tabs of one browser (one context: one profile, so the tabs share
// Chromium's 6 HTTP/1.1 connections per host): every tab loads and shows a
// new message live, because the tabs share one event stream (a leader tab
// holds it and passes its events on, web/app.js); when the leader tab
// closes, another takes over. 8 tabs over plain HTTP (E2E_HTTP_URL), where
// only the sharing keeps them under the limit; 20 tabs over HTTPS (E2E_URL),
// where HTTP/2 carries them all over one connection as well.
// The diagnostics report how long a message took to reach every tab. The
// same stream follows the listed rooms: one with a new message is marked.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  URL, HTTP_URL, api, launch, registerApi, sendApi, createRoomApi, newPage, registerUi, uniqueEmail, waitForText,
  streamOpened,
} from './lib.mjs';

let browser;

before(async () => {
  assert.ok(URL && HTTP_URL, 'E2E_URL and E2E_HTTP_URL are set (run tests/e2e/run.sh)');
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
});

// Counts the live connections the context's open pages hold: an
// EventSource's request never finishes while its stream is open, and a
// WebSocket on /ws is open until its close event (a closed page's requests
// and sockets report nothing more, so they are left out by their page).
function streamCounter(context) {
  const open = new Map(); // request or WebSocket → its page
  const gone = (request) => open.delete(request);
  context.on('request', (request) => {
    if (request.url().includes('/stream?')) open.set(request, request.frame().page());
  });
  context.on('requestfinished', gone);
  context.on('requestfailed', gone);
  context.on('page', (page) => page.on('websocket', (ws) => {
    if (!ws.url().endsWith('/ws')) return;
    open.set(ws, page);
    ws.on('close', () => open.delete(ws));
  }));
  return () => [...open.values()].filter((page) => !page.isClosed()).length;
}

// Opens n tabs of one logged-in browser on room at base; returns them.
async function openTabs(context, base, room, n) {
  const first = await newPage(context);
  await first.goto(`${base}/#${room}`);
  await registerUi(first, uniqueEmail('tabs'), 'Tabby');
  const tabs = [first];
  for (let i = 1; i < n; i++) {
    const tab = await newPage(context);
    await tab.goto(`${base}/#${room}`, { timeout: 30000 });
    tabs.push(tab);
  }
  for (const tab of tabs) await tab.locator('#history-state', { hasText: 'No messages' }).waitFor({ timeout: 30000 });
  return tabs;
}

// Sends text to room and waits until every tab shows it. Returns when the
// first and the last tab showed it, in ms after the send started (each tab
// notes the time itself, with a MutationObserver: the tabs share one clock).
async function sendAndSeeEverywhere(cookie, room, tabs, text) {
  await Promise.all(tabs.map((tab) => tab.evaluate((t) => {
    window.shownAt = new Promise((resolve) => {
      const seen = () => [...document.querySelectorAll('#messages .text')].some((n) => n.textContent === t);
      const observer = new MutationObserver(() => {
        if (seen()) { observer.disconnect(); resolve(Date.now()); }
      });
      observer.observe(document.getElementById('messages'), { childList: true, subtree: true });
      setTimeout(() => resolve(NaN), 30000); // the watchdog
    });
  }, text)));
  const started = Date.now();
  await sendApi(cookie, room, text);
  const times = await Promise.all(tabs.map((tab) => tab.evaluate(() => window.shownAt)));
  assert.ok(times.every(Number.isFinite), `every tab shows "${text}" (${times.filter(Number.isFinite).length} of ${tabs.length} do)`);
  return { first: Math.min(...times) - started, last: Math.max(...times) - started };
}

async function manyTabs(t, base, n) {
  const room = `tabs-${n}-${process.pid}`;
  await createRoomApi(room);
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const streams = streamCounter(context);
  const tabs = await openTabs(context, base, room, n);
  const { cookie } = await registerApi('tabs-sender', 'Sam');
  const live = await sendAndSeeEverywhere(cookie, room, tabs, `hello ${n} tabs`);
  assert.equal(streams(), 1, 'the tabs share one event stream');

  await tabs[0].close(); // the first tab leads: another one takes the stream over
  const rest = tabs.slice(1);
  const handover = await sendAndSeeEverywhere(cookie, room, rest, 'after the leader left');
  assert.equal(streams(), 1, 'one stream after the handover');
  for (const tab of rest) {
    const texts = await tab.$$eval('#messages .text', (nodes) => nodes.map((x) => x.textContent));
    assert.deepEqual(texts, [`hello ${n} tabs`, 'after the leader left'], 'every message once');
    assert.deepEqual(tab.problems, []);
  }
  t.diagnostic(`${n} tabs over ${base.split(':')[0]}: a message sent through the load balancer ` +
    `showed in the first tab after ${live.first} ms, in the last after ${live.last} ms; after the ` +
    `leader tab closed: ${handover.first} ms and ${handover.last} ms`);
  await context.close();
}

test('8 tabs over plain HTTP all load and all show a new message live', { timeout: 120000 }, async (t) => {
  await manyTabs(t, HTTP_URL, 8);
});

test('20 tabs over HTTPS all load and all show a new message live', { timeout: 240000 }, async (t) => {
  assert.ok(URL.startsWith('https://'), `E2E_URL is the HTTPS address (${URL})`);
  await manyTabs(t, URL, 20);
});

test('the same stream marks a listed room with a new message as unread', { timeout: 60000 }, async () => {
  const room = `unread-${process.pid}`;
  const { cookie } = await registerApi('unread-sender', 'Una');
  const created = await api('POST', '/room/', { body: { name: room }, cookie });
  assert.ok([200, 201].includes(created.status), `room created (${created.status})`);
  const context = await browser.newContext();
  const streams = streamCounter(context);
  const page = await newPage(context);
  // The stream opens once the lobby's first page and the room list came.
  const streamOpen = streamOpened(context, room);
  await page.goto(`${URL}/#lobby`);
  await registerUi(page, uniqueEmail('unread'), 'Reader');
  const button = page.locator(`#room-list button[data-room="${room}"]`);
  await button.waitFor();
  await streamOpen;
  // A message sent to the lobby now can only come by the stream: once it
  // shows, the stream is live, and so is its other room, which started with
  // it (each waits for one Redis read; the send takes several).
  const hello = `hello lobby ${process.pid}`;
  await sendApi(cookie, 'lobby', hello);
  await waitForText(page, hello);
  await sendApi(cookie, room, 'while you were in the lobby');
  await page.locator(`#room-list button.unread[data-room="${room}"]`).waitFor({ timeout: 20000 });
  assert.equal(streams(), 1, 'one stream for the lobby and the listed room');
  await button.click();
  await waitForText(page, 'while you were in the lobby');
  assert.equal(await page.locator(`#room-list button.unread[data-room="${room}"]`).count(), 0);
  assert.deepEqual(page.problems, []);
  await context.close();
});
