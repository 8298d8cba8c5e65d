// Typing and presence in the web client (issue 20), across two browsers:
// the room's header says who is online (a second browser joining shows up
// in the first, and goes when its page closes); typing in one browser shows
// "<name> is typing…" under the messages of the other, never of oneself,
// and it goes away by itself once the typing stops (6 s).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { URL, launch, uniqueEmail, createRoomApi, newPage, registerUi, sendUi, waitForText } from './lib.mjs';

let browser;

before(async () => {
  assert.ok(URL, 'E2E_URL is set (run tests/e2e/run.sh)');
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
});

async function userPage(tag, name, room) {
  const context = await browser.newContext();
  const page = await newPage(context);
  await page.goto(`${URL}/#${room}`);
  await registerUi(page, uniqueEmail(tag), name);
  return { context, page };
}

const online = (page) => page.locator('#online');
const typing = (page) => page.locator('#typing');

test('who is online, and who is typing, across two browsers', { timeout: 90000 }, async () => {
  const room = `presence-${process.pid}`;
  await createRoomApi(room);
  const ann = await userPage('presence-ann', 'Ann', room);
  await online(ann.page).filter({ hasText: '1 online: Ann' }).waitFor();
  const ben = await userPage('presence-ben', 'Ben', room);
  await online(ben.page).filter({ hasText: '2 online: Ann, Ben' }).waitFor();
  await online(ann.page).filter({ hasText: '2 online: Ann, Ben' }).waitFor();

  await ann.page.locator('#text').pressSequentially('hello the', { delay: 20 });
  await typing(ben.page).filter({ hasText: 'Ann is typing…' }).waitFor();
  assert.equal(await typing(ann.page).textContent(), '', 'one is never told of oneself');
  // no more keys: the indicator goes by itself (6 s after the last signal)
  await ben.page.waitForFunction(() => document.getElementById('typing').textContent === '', null,
    { timeout: 15000 });

  await ann.page.locator('#text').fill('');
  await sendUi(ann.page, 'hello there');
  await waitForText(ben.page, 'hello there');

  await ben.context.close();
  await online(ann.page).filter({ hasText: '1 online: Ann' }).waitFor({ timeout: 15000 });
  assert.deepEqual(ann.page.problems, []);
  await ann.context.close();
});
