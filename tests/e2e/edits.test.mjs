// Edits and deletions of one's own message in the web client (issue 20):
// the author's message menu offers "Edit message" and "Delete message";
// an edit made in one browser shows its new text and "(edited)" in another
// browser live and after a reload (the history answers the latest text);
// a deletion leaves the room event in its place in both.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { URL, launch, createRoomApi, waitForText, sendUi, userPageIn, messageOf } from './lib.mjs';

let browser;

before(async () => {
  assert.ok(URL, 'E2E_URL is set (run tests/e2e/run.sh)');
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
});

const userPage = (tag, name, room) => userPageIn(browser, tag, name, room);

test('an author edits and deletes a message; another browser sees both', { timeout: 90000 }, async () => {
  const room = `edits-${process.pid}`;
  await createRoomApi(room);
  const ann = await userPage('edits-ann', 'Ann', room);
  const ben = await userPage('edits-ben', 'Ben', room);
  await sendUi(ann.page, 'teh first try');
  await waitForText(ben.page, 'teh first try');

  const mine = messageOf(ann.page, 'teh first try');
  await mine.locator('.menu-button').click();
  const actions = await mine.locator('.message-menu button').evaluateAll((b) => b.map((x) => x.dataset.action));
  assert.deepEqual(actions, ['edit-message', 'delete-message']);
  await mine.locator('.message-menu button[data-action="edit-message"]').click();
  await mine.locator('.edit-form .edit-text').fill('the first try');
  await mine.locator('.edit-form .edit-text').press('Enter');

  for (const page of [ann.page, ben.page]) {
    await waitForText(page, 'the first try');
    await messageOf(page, 'the first try').locator('.edited').waitFor();
  }
  const others = messageOf(ben.page, 'the first try');
  await others.locator('.menu-button').click();
  assert.deepEqual(await others.locator('.message-menu button').evaluateAll((b) => b.map((x) => x.dataset.action)), ['dm']);
  await others.locator('.menu-button').click();

  await ben.page.reload();
  await waitForText(ben.page, 'the first try');
  await messageOf(ben.page, 'the first try').locator('.edited').waitFor();
  assert.equal(await ben.page.locator('#messages .text', { hasText: 'teh first try' }).count(), 0);
  assert.equal(await ben.page.locator('#messages li.event').count(), 0, 'an edit is not shown as an event');

  await messageOf(ann.page, 'the first try').locator('.menu-button').click();
  await messageOf(ann.page, 'the first try').locator('.message-menu button[data-action="delete-message"]').click();
  for (const page of [ann.page, ben.page]) {
    await page.locator('#messages li.event', { hasText: 'Ann deleted a message.' }).waitFor();
    await messageOf(page, 'the first try').waitFor({ state: 'detached' });
  }
  assert.deepEqual(ann.page.problems, []);
  assert.deepEqual(ben.page.problems, []);
  await ann.context.close();
  await ben.context.close();
});
