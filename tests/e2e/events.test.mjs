// Room events in the web client: a page that shows a room sees a member
// added and a moderator's removal of a message as lines in words, live, and
// the removed message's text goes from the page. The room and its members
// are made through the API, as an application or another client would.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  URL, api, launch, uniqueEmail, registerApi, sendApi, newPage, waitForText, registerUi, shownTexts,
} from './lib.mjs';

let browser;

before(async () => {
  assert.ok(URL, 'E2E_URL is set (run tests/e2e/run.sh)');
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
});

test('a member added and a message removed show as lines in words, live', { timeout: 60000 }, async () => {
  const room = `events-${process.pid}`;
  const owner = await registerApi('events-owner', 'Olga');
  const carol = await registerApi('events-member', 'Carol');
  assert.equal((await api('POST', '/room/', { body: { name: room }, cookie: owner.cookie })).status, 201);
  await sendApi(owner.cookie, room, 'welcome');

  const context = await browser.newContext();
  const page = await newPage(context);
  await page.goto(`${URL}/#${room}`);
  await registerUi(page, uniqueEmail('events-reader'), 'Reader');
  await waitForText(page, 'welcome');

  const added = await api('POST', `/room/${room}/member`, { body: { userId: carol.user.id }, cookie: owner.cookie });
  assert.equal(added.status, 200, JSON.stringify(added.data));
  await page.locator('#messages li.event', { hasText: 'Olga added Carol to the room.' }).waitFor();

  const doomed = await sendApi(carol.cookie, room, 'a message to remove');
  await waitForText(page, 'a message to remove');
  const removed = await api('DELETE', `/room/${room}/message/?id=${encodeURIComponent(doomed.id)}`, { cookie: owner.cookie });
  assert.equal(removed.status, 200, JSON.stringify(removed.data));
  await page.locator('#messages li.event', { hasText: 'A message was removed by a moderator.' }).waitFor();
  await page.locator('#messages li.message', { hasText: 'a message to remove' }).waitFor({ state: 'detached' });

  // a reload reads the history: the same lines, and still no removed text
  await page.reload();
  await waitForText(page, 'welcome');
  await page.locator('#messages li.event', { hasText: 'Olga added Carol to the room.' }).waitFor();
  await page.locator('#messages li.event', { hasText: 'A message was removed by a moderator.' }).waitFor();
  assert.ok(!(await shownTexts(page)).includes('a message to remove'));
  assert.deepEqual(page.problems, []);
  await context.close();
});
