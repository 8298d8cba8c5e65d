// Private rooms and members in the web client (issue 19): a room created
// private is marked in the list; its owner invites a user by e-mail from
// the room's header and that user finds it in their list when their page is
// focused again, reads and writes it; leaving it takes it off the list, and
// the last owner is told why they cannot leave.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  URL, api, launch, uniqueEmail, newPage, waitForText, registerUi, sendUi,
} from './lib.mjs';

let browser;

before(async () => {
  assert.ok(URL, 'E2E_URL is set (run tests/e2e/run.sh)');
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
});

// A page of a new browser, registered as name; returns {context, page, email}.
async function userPage(tag, name, room = 'lobby') {
  const context = await browser.newContext();
  const page = await newPage(context);
  const email = uniqueEmail(tag);
  await page.goto(`${URL}/#${room}`);
  await registerUi(page, email, name);
  return { context, page, email };
}

// Creates a room through the page's form.
async function createRoomUi(page, room, kind) {
  await page.fill('#room-name', room);
  await page.selectOption('#room-kind', kind);
  await page.click('#room-form button[type="submit"]');
  await page.locator('#room-title', { hasText: room }).waitFor();
}

test('a private room: created marked, an invited user reads and writes it, leaving it', { timeout: 90000 }, async () => {
  const room = `secret-${process.pid}`;
  const olga = await userPage('members-owner', 'Olga');
  const carol = await userPage('members-invited', 'Carol');

  await createRoomUi(olga.page, room, 'private');
  const listed = olga.page.locator(`#room-list button[data-room="${room}"]`);
  assert.equal(await listed.getAttribute('data-kind'), 'private');
  assert.ok((await listed.textContent()).includes('🔒'), 'the list marks the private room');
  assert.equal(await olga.page.locator('#room-title').getAttribute('data-kind'), 'private');
  assert.equal((await api('GET', `/room/${room}/message/`)).status, 404, 'the server keeps it from others');
  await sendUi(olga.page, 'only for members');
  await waitForText(olga.page, 'only for members');

  // invite by e-mail from the header; the invited user's list has it once
  // their page is focused again (a browser fires "focus" on the window)
  assert.equal(await carol.page.locator(`#room-list button[data-room="${room}"]`).count(), 0);
  await olga.page.fill('#invite-email', carol.email);
  await olga.page.click('#invite');
  await olga.page.locator('#room-note', { hasText: 'is now a member' }).waitFor();
  await olga.page.locator('#messages li.event', { hasText: 'Olga added Carol to the room.' }).waitFor();
  await carol.page.evaluate(() => window.dispatchEvent(new Event('focus')));
  const invited = carol.page.locator(`#room-list button[data-room="${room}"][data-kind="private"]`);
  await invited.click();
  await waitForText(carol.page, 'only for members');
  assert.ok(await carol.page.locator('#invite-form').isHidden(), 'a member does not invite');
  await sendUi(carol.page, 'thanks for the invitation');
  await waitForText(olga.page, 'thanks for the invitation');

  // the invited user leaves: the room goes from their list
  await carol.page.click('#leave-room');
  await carol.page.locator('#room-title', { hasText: 'lobby' }).waitFor();
  await invited.waitFor({ state: 'detached' });
  await olga.page.locator('#messages li.event', { hasText: 'Carol left the room.' }).waitFor();
  assert.equal((await api('GET', `/room/${room}/message/`, { cookie: await cookieOf(carol.context) })).status, 404);

  // the last owner may not leave, and is told why
  await olga.page.click('#leave-room');
  await olga.page.locator('#room-action-error', { hasText: 'last owner' }).waitFor();
  assert.ok(await olga.page.locator(`#room-list button[data-room="${room}"]`).isVisible());

  assert.deepEqual(olga.page.problems, []);
  assert.deepEqual(carol.page.problems, []);
  await olga.context.close();
  await carol.context.close();
});

// The session cookie of a browser context, for the API helper.
async function cookieOf(context) {
  const cookie = (await context.cookies()).find((c) => c.name.endsWith('authKey'));
  assert.ok(cookie, 'the page has a session cookie');
  return `${cookie.name}=${cookie.value}`;
}
