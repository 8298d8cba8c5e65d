// The web client where a room's history was trimmed while the page was
// away: the page follows a room, leaves it (its stream drops the room, which
// sorts after the first 32 listed, the most one stream carries, but
// the page keeps the room's position), messages come and the room's stream
// is trimmed to its 2 newest (XTRIM on the cluster, as chatd's retention
// would); back in the room, the stream resumes from the old position, gets
// the server's gap event and the page says "Older messages are no longer
// available." right before the oldest message kept.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  URL, api, launch, uniqueEmail, registerApi, sendApi, newPage, waitForText, registerUi, screenshot, streamOpened,
} from './lib.mjs';

let browser;

before(async () => {
  assert.ok(URL, 'E2E_URL is set (run tests/e2e/run.sh)');
  assert.ok(process.env.CLUSTER_PORT_BASE, 'CLUSTER_PORT_BASE is set (run tests/e2e/run.sh)');
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
});

test('back in a room trimmed meanwhile, the page says older messages are gone', { timeout: 60000 }, async () => {
  const room = `zzz-gap-${process.pid}`; // listed after 40 others: followed only while open
  const { cookie } = await registerApi('gap-sender', 'Gia');
  for (let i = 0; i < 40; i++) {
    const made = await api('POST', '/room/', { body: { name: `zz-fill-${process.pid}-${i}` }, cookie });
    assert.equal(made.status, 201, `filler room ${i} created`);
  }
  assert.equal((await api('POST', '/room/', { body: { name: room }, cookie })).status, 201);
  await sendApi(cookie, room, 'before 1');
  const context = await browser.newContext();
  const page = await newPage(context);
  await page.goto(`${URL}/#lobby`);
  await registerUi(page, uniqueEmail('gap'), 'Reader');
  let opened = streamOpened(context, room, true);
  await page.evaluate((r) => { location.hash = r; }, room);
  await waitForText(page, 'before 1');
  await opened;
  await sendApi(cookie, room, 'live 1'); // comes by the stream: the page's position is there
  await waitForText(page, 'live 1');

  opened = streamOpened(context, room, false);
  await page.evaluate(() => { location.hash = 'lobby'; });
  await opened; // the room's stream is closed: what follows does not reach the page
  for (let i = 1; i <= 6; i++) await sendApi(cookie, room, `away ${i}`);
  execFileSync('redis-cli', ['-c', '-p', process.env.CLUSTER_PORT_BASE, 'XTRIM', `room:{${room}}:messages`, 'MAXLEN', '2']);

  await page.evaluate((r) => { location.hash = r; }, room);
  const notice = page.locator('#messages .gap', { hasText: 'Older messages are no longer available.' });
  await notice.waitFor({ timeout: 20000 });
  await screenshot(page, 'gap.png');
  const shown = await page.$$eval('#messages > li', (nodes) =>
    nodes.map((n) => (n.classList.contains('gap') ? 'GAP' : n.querySelector('.text').textContent)));
  assert.deepEqual(shown, ['GAP', 'away 5', 'away 6']);
  assert.deepEqual(page.problems, []);
  await context.close();
});
