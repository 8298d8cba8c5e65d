// The JavaScript client (web/clusterchat.js) in the browser: a page of
// chatd's origin imports it from /clusterchat.js (through HAProxy over
// HTTPS, like every e2e test), registers with it (the session is the
// HttpOnly cookie, which the client never sees), creates a room, follows it
// over a WebSocket and over the event stream read with fetch, sends, and
// reads the newest page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { URL, PASSWORD, launch, newPage, uniqueEmail } from './lib.mjs';

let browser;

before(async () => {
  assert.ok(URL, 'E2E_URL is set (run tests/e2e/run.sh)');
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
});

// Runs in the page: everything through the module chatd serves.
async function useTheClient({ email, password, room }) {
  const { ChatClient, ChatError } = await import('/clusterchat.js');
  const chat = new ChatClient();
  const user = await chat.register({ email, password, name: 'Browser' });
  await chat.createRoom(room);
  const follow = async (transport) => {
    const stream = chat.stream({ rooms: [room], transport });
    await stream.once('live');
    const got = stream.once('message');
    const sent = await chat.send(room, `over ${transport}`);
    const m = await got;
    stream.close();
    return { transport: stream.transport, sent: sent.id, got: m.id, text: m.text };
  };
  const ws = await follow('auto');
  const sse = await follow('sse');
  const page = await chat.newest(room);
  let refused = null;
  try {
    await chat.send('No Such Room', 'x');
  } catch (e) {
    refused = { isChatError: e instanceof ChatError, status: e.status, code: e.code };
  }
  return { user: user.name, token: chat.token, ws, sse, texts: page.messages.map((m) => m.text), refused };
}

test('a page imports the client from chatd and uses it over both transports', { timeout: 60000 }, async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await newPage(context);
  await page.goto(`${URL}/`);
  const room = `sdk-${process.pid}-${Date.now()}`;
  const r = await page.evaluate(useTheClient, { email: uniqueEmail('sdk'), password: PASSWORD, room });
  assert.equal(r.user, 'Browser');
  assert.equal(r.token, null, 'the HttpOnly cookie stays out of reach of scripts');
  assert.deepEqual(r.ws, { transport: 'ws', sent: r.ws.sent, got: r.ws.sent, text: 'over auto' });
  assert.deepEqual(r.sse, { transport: 'sse', sent: r.sse.sent, got: r.sse.sent, text: 'over sse' });
  assert.deepEqual(r.texts, ['over auto', 'over sse']);
  assert.deepEqual(r.refused, { isChatError: true, status: 400, code: 'invalid_room' });
  assert.deepEqual(page.problems, []);
  await context.close();
});
