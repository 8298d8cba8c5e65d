// The web client in headless Chromium against the whole system (HAProxy,
// three chatd, the Redis Cluster) that tests/e2e/run.sh started. The tests
// run in order: the first kills one chatd, the others then run on the two
// left; from the second on they share two users, Alice and Bob, each in a
// browser context of their own. Screenshots of the main states go to
// build/e2e-artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  URL, CHATD_URLS, CHATD_PIDS, PASSWORD, launch, uniqueEmail, api, registerApi, sendApi, createRoomApi,
  waitUntil, openStreams, metricOfEach, screenshot, newPage, shownTexts, waitForText, registerUi, loginUi, sendUi,
} from './lib.mjs';

let browser, alice, bob; // alice and bob: {context, page, email}
const pages = [];        // every page opened, checked for errors at the end

async function open(context) {
  const page = await newPage(context);
  pages.push(page);
  return page;
}

before(async () => {
  assert.ok(URL, 'E2E_URL is set (run tests/e2e/run.sh)');
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
});

test('kill -9 of the chatd holding the stream: the page reconnects and shows every message once', { timeout: 90000 }, async (t) => {
  // First of all, so that this page's is the only stream there is: a stream
  // a browser left stays counted until chatd's next heartbeat finds it gone
  // (HAProxy passes a client's close on only when it writes to it).
  const room = `kill-${process.pid}`;
  await createRoomApi(room);
  const context = await browser.newContext();
  const page = await open(context);
  await page.goto(`${URL}/#${room}`); // the room opens right after the registration
  await page.locator('#auth-form').waitFor();
  await page.click('#auth-switch');
  await page.fill('#email', uniqueEmail('kim'));
  await page.fill('#password', PASSWORD);
  await page.fill('#name', 'Kim');
  await page.click('#auth-submit');
  await page.locator('#history-state', { hasText: 'No messages' }).waitFor();
  let gauges = [];
  const holder = await waitUntil('one open stream on one chatd', async () => {
    gauges = await openStreams();
    const total = gauges.reduce((a, b) => a + (b || 0), 0);
    return total === 1 ? gauges.indexOf(1) + 1 : 0;
  }).catch((e) => { throw new Error(`${e.message}; chatd_open_streams: ${gauges.join(', ')}`); });
  const { cookie } = await registerApi('sender', 'Carol');
  const want = ['before the kill 1', 'before the kill 2'];
  for (const text of want) await sendApi(cookie, room, text);
  for (const text of want) await waitForText(page, text);

  process.kill(CHATD_PIDS[holder - 1], 'SIGKILL');
  await page.locator('#status', { hasText: 'Reconnecting' }).waitFor({ timeout: 10000 });
  await screenshot(page, 'reconnecting.png');
  for (let i = 1; i <= 5; i++) {
    const text = `while away ${i}`;
    await sendApi(cookie, room, text);
    want.push(text);
  }
  const stillAway = await page.locator('#status', { hasText: 'Reconnecting' }).isVisible();
  await page.locator('#status').waitFor({ state: 'hidden', timeout: 30000 });
  for (const text of want) await waitForText(page, text);
  await sendApi(cookie, room, 'after the reconnection');
  want.push('after the reconnection');
  await waitForText(page, 'after the reconnection');
  assert.deepEqual(await shownTexts(page), want, 'every message once, in order');
  const ids = await page.$$eval('#messages .message', (n) => n.map((x) => x.dataset.id));
  assert.equal(new Set(ids).size, ids.length);
  gauges = await openStreams();
  assert.equal(gauges[holder - 1], null, 'the killed chatd is gone');
  assert.equal(gauges.reduce((a, b) => a + (b || 0), 0), 1, 'the page streams from another chatd');
  t.diagnostic(`killed chatd ${holder} (${CHATD_URLS[holder - 1]}); messages sent while the page was ` +
    (stillAway ? 'still reconnecting' : 'reconnecting or back'));
  await context.close();
});

test('two users register in two browsers and exchange messages live', { timeout: 60000 }, async () => {
  alice = { context: await browser.newContext(), email: uniqueEmail('alice') };
  bob = { context: await browser.newContext(), email: uniqueEmail('bob') };
  alice.page = await open(alice.context);
  await alice.page.goto(URL + '/');
  await alice.page.locator('#auth-form').waitFor();
  assert.equal(await alice.page.locator('label[for=email]').textContent(), 'E-mail address');
  await screenshot(alice.page, 'login.png');
  bob.page = await open(bob.context);
  await Promise.all([registerUi(alice.page, alice.email, 'Alice'), registerUi(bob.page, bob.email, 'Bob')]);
  assert.equal(await alice.page.textContent('#me-name'), 'Alice');
  assert.equal(await bob.page.textContent('#me-name'), 'Bob');

  await sendUi(alice.page, 'Hello from Alice');
  await waitForText(bob.page, 'Hello from Alice');
  // Shift+Enter is a new line, Enter sends
  await bob.page.locator('#text').fill('Hi Alice,');
  await bob.page.locator('#text').press('Shift+Enter');
  await bob.page.locator('#text').type('two lines from Bob');
  assert.equal(await bob.page.locator('#messages .text').count(), 1, 'Shift+Enter did not send');
  await bob.page.locator('#text').press('Enter');
  await waitForText(alice.page, 'Hi Alice,\ntwo lines from Bob');
  await waitForText(bob.page, 'Hi Alice,\ntwo lines from Bob');

  for (const [page, ownText, otherText] of [[alice.page, 'Hello from Alice', 'Hi Alice,\ntwo lines from Bob'],
    [bob.page, 'Hi Alice,\ntwo lines from Bob', 'Hello from Alice']]) {
    const own = page.locator('#messages .message', { has: page.locator('.text', { hasText: ownText.split('\n')[0] }) });
    const other = page.locator('#messages .message', { has: page.locator('.text', { hasText: otherText.split('\n')[0] }) });
    assert.match(await own.getAttribute('class'), /\bown\b/);
    assert.doesNotMatch(await other.getAttribute('class'), /\bown\b/);
    // a local time in the <time> element, and the author's name
    assert.match(await own.locator('time').getAttribute('datetime'), /^\d{4}-\d\d-\d\dT/);
  }
  assert.deepEqual(await alice.page.$$eval('#messages .author', (n) => n.map((x) => x.textContent)), ['Alice', 'Bob']);
  assert.deepEqual(await shownTexts(alice.page), await shownTexts(bob.page));
});

// HAProxy, unless told otherwise (option http-no-delay in deploy/haproxy.cfg),
// lets the kernel hold back each event of a stream for 200 ms, waiting for
// more data to fill the segment. An event crosses it in about a millisecond
// otherwise: the median of a few sends against half of 200 ms tells the two
// apart with a wide margin either way.
test('a live message through HAProxy is not held back', { timeout: 60000 }, async () => {
  const { cookie } = await registerApi('nodelay', 'Carol');
  const took = [];
  for (let i = 0; i < 5; i++) {
    const text = `not held ${process.pid} ${i}`;
    await alice.page.evaluate((t) => { // notes when the text is shown
      const list = document.getElementById('messages');
      const shown = () => [...list.querySelectorAll('.text')].some((n) => n.textContent === t);
      const observer = new MutationObserver(() => {
        if (!shown()) return;
        observer.disconnect();
        window.shownAt = Date.now();
      });
      window.shownAt = 0;
      observer.observe(list, { childList: true, subtree: true });
    }, text);
    const sent = Date.now();
    await sendApi(cookie, 'lobby', text);
    const shownAt = await waitUntil(`"${text}" on the page`, () => alice.page.evaluate(() => window.shownAt));
    took.push(shownAt - sent);
  }
  took.sort((a, b) => a - b);
  console.log(`# send -> shown through HAProxy: median ${took[2]} ms, slowest ${took[4]} ms`);
  assert.ok(took[2] < 100, `the median ${took[2]} ms is near the kernel's 200 ms hold`);
});

test('errors are shown in words', { timeout: 60000 }, async () => {
  const context = await browser.newContext();
  const page = await open(context);
  await page.goto(URL + '/');
  await page.locator('#auth-form').waitFor();
  await loginUi(page, alice.email, 'not the password');
  await page.locator('#auth-error', { hasText: 'Wrong e-mail address or password.' }).waitFor();
  await page.click('#auth-switch');
  await page.fill('#email', alice.email);
  await page.fill('#password', PASSWORD);
  await page.click('#auth-submit');
  await page.locator('#auth-error', { hasText: 'already registered' }).waitFor();
  await context.close();

  await alice.page.locator('#text').fill('x'.repeat(4097));
  await alice.page.locator('#text').press('Enter');
  await alice.page.locator('#send-error', { hasText: 'too long' }).waitFor();
  await alice.page.locator('#text').fill('');

  // Offline: the page says so, keeps trying with the same Idempotency-Key,
  // and the message arrives once when the network is back.
  await alice.context.setOffline(true);
  await sendUi(alice.page, 'sent while offline');
  await alice.page.locator('#send-error', { hasText: 'offline' }).waitFor();
  await alice.page.locator('#status', { hasText: 'Offline' }).waitFor();
  await alice.context.setOffline(false);
  await waitForText(bob.page, 'sent while offline');
  await waitForText(alice.page, 'sent while offline');
  await alice.page.locator('#send-error').waitFor({ state: 'hidden' });
  await alice.page.locator('#status').waitFor({ state: 'hidden', timeout: 30000 });
  for (const page of [alice.page, bob.page])
    assert.equal((await shownTexts(page)).filter((t) => t === 'sent while offline').length, 1);
});

test('a burst beyond the message limit: the page waits as told and sends each once, in order', { timeout: 90000 }, async () => {
  const refused = async () => (await metricOfEach('chatd_rate_limited_total{limit="messages-user"}'))
    .reduce((sum, n) => sum + (n || 0), 0);
  const before = await refused();
  const texts = [];
  for (let i = 1; i <= 25; i++) texts.push(`burst ${String(i).padStart(2, '0')}`);
  await alice.page.evaluate(() => { // typing clears the note: remember it was shown
    const note = document.getElementById('send-error');
    new MutationObserver(() => {
      if (note.textContent.startsWith('Sending too fast')) window.sawTooFast = true;
    }).observe(note, { childList: true, characterData: true, subtree: true });
  });
  for (const text of texts) await sendUi(alice.page, text); // faster than 10 per second
  for (const page of [alice.page, bob.page]) {
    await waitForText(page, texts[texts.length - 1], 60000);
    const shown = (await shownTexts(page)).filter((t) => t.startsWith('burst '));
    assert.deepEqual(shown, texts);
  }
  await alice.page.locator('#send-error').waitFor({ state: 'hidden' });
  assert.ok(await refused() > before, 'chatd refused some of the burst with 429');
  assert.ok(await alice.page.evaluate(() => window.sawTooFast), 'the page said it was waiting');
});

test('the session survives a reload and other tabs; logging out ends it', { timeout: 60000 }, async () => {
  await alice.page.reload();
  await alice.page.locator('#chat-view').waitFor();
  assert.equal(await alice.page.textContent('#me-name'), 'Alice');
  await waitForText(alice.page, 'Hello from Alice');

  const tab = await open(alice.context); // a second tab of the same browser
  await tab.goto(URL + '/');
  await tab.locator('#chat-view').waitFor();
  await tab.click('#logout');
  await tab.locator('#auth-form').waitFor();
  // the first tab hears of it, and a reload stays logged out
  await alice.page.locator('#auth-form').waitFor();
  await alice.page.reload();
  await alice.page.locator('#auth-form').waitFor();
  const me = await alice.context.request.get(URL + '/user/');
  assert.equal(me.status(), 401);
  await tab.close();

  await loginUi(alice.page, alice.email);
  await alice.page.locator('#chat-view').waitFor();
  await waitForText(alice.page, 'Hello from Alice');
});

test('message text is shown as text and runs nothing', { timeout: 60000 }, async () => {
  const attacks = ['<img src=x onerror=alert(1)>', '<script>alert(2)</script>', '"><svg onload=alert(3)>'];
  for (const text of attacks) await sendUi(bob.page, text);
  for (const page of [alice.page, bob.page]) {
    for (const text of attacks) await waitForText(page, text);
    assert.equal(await page.locator('#messages img, #messages script, #messages svg').count(), 0);
  }
  // the dialog handler of every page records an alert; none may have come
  assert.deepEqual([...alice.page.problems, ...bob.page.problems], []);
  await screenshot(alice.page, 'chat.png');
});

test('scroll-back loads older messages in order', { timeout: 60000 }, async () => {
  const room = `scroll-${process.pid}`;
  await createRoomApi(room);
  const { cookie } = await registerApi('seeder', 'Seeder');
  const want = [];
  for (let i = 1; i <= 130; i++) want.push(`old message ${String(i).padStart(3, '0')}`);
  for (let i = 0; i < want.length; i += 10) { // ten at a time, each batch in order
    for (const text of want.slice(i, i + 10)) await sendApi(cookie, room, text);
  }
  const page = await open(alice.context);
  await page.goto(`${URL}/#${room}`);
  await waitForText(page, 'old message 130');
  await page.locator('#older').waitFor();
  assert.deepEqual(await shownTexts(page), want.slice(80));
  for (const count of [100, 130]) {
    await page.evaluate(() => { document.getElementById('scroller').scrollTop = 0; });
    await page.waitForFunction((n) => document.querySelectorAll('#messages .text').length === n, count);
  }
  await page.locator('#history-state', { hasText: 'beginning' }).waitFor();
  assert.deepEqual(await shownTexts(page), want);
  assert.ok(await page.locator('#older').isHidden());
  await page.close();
});

test('rooms: create one and switch between rooms', { timeout: 60000 }, async () => {
  const room = `team-${process.pid}`;
  await alice.page.fill('#room-name', 'Not A Room');
  await alice.page.press('#room-name', 'Enter');
  await alice.page.locator('#room-error', { hasText: 'a–z' }).waitFor();
  await alice.page.fill('#room-name', room);
  await alice.page.press('#room-name', 'Enter');
  await alice.page.locator('#room-title', { hasText: room }).waitFor();
  await alice.page.locator('#history-state', { hasText: 'No messages' }).waitFor();
  await bob.page.reload();
  await bob.page.locator(`#room-list button[data-room="${room}"]`).click();
  await bob.page.locator('#room-title', { hasText: room }).waitFor();
  await sendUi(bob.page, 'in the new room');
  await waitForText(alice.page, 'in the new room');
  await alice.page.locator('#room-list button[data-room="lobby"]').click();
  await waitForText(alice.page, 'Hello from Alice');
  assert.ok(!(await shownTexts(alice.page)).includes('in the new room'));
});

test('a phone-sized screen shows the chat without sideways scrolling', { timeout: 60000 }, async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 760 }, isMobile: true, hasTouch: true });
  const page = await open(context);
  await page.goto(URL + '/');
  await loginUi(page, alice.email);
  await page.locator('#chat-view').waitFor();
  await waitForText(page, 'Hello from Alice');
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth));
  assert.ok(await page.locator('#text').isVisible());
  await screenshot(page, 'phone.png');
  await context.close();
});

test('no page had an error, an alert or a CSP violation', () => {
  assert.deepEqual(pages.flatMap((p) => p.problems), []);
});
