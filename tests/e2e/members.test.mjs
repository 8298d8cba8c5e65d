// Private rooms, members and direct conversations in the web client
// (issue 19): a room created private is marked in the list; its
// owner invites a user by e-mail from the room's header and that user finds
// it in their list when their page is focused again, reads and writes it;
// leaving it takes it off the list, and the last owner is told why they
// cannot leave; a message's menu starts a direct conversation with its
// author. The other users act through the API where the page is not what
// is being tested.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  URL, api, launch, uniqueEmail, registerApi, sendApi, newPage, waitForText, registerUi, sendUi,
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

// Opens the menu of the message with this text and clicks the item action.
async function messageAction(page, text, action) {
  const message = page.locator('#messages li.message', { hasText: text });
  await message.locator('.menu-button').click();
  await message.locator(`.message-menu button[data-action="${action}"]`).click();
}

// The actions a message's menu offers on the page (and closes it again).
async function menuActions(page, text) {
  const message = page.locator('#messages li.message', { hasText: text });
  await message.locator('.menu-button').click();
  const actions = await message.locator('.message-menu button').evaluateAll((b) => b.map((x) => x.dataset.action));
  await message.locator('.menu-button').click();
  return actions;
}

test('a private room: created marked, an invited user reads and writes it, leaving it', { timeout: 90000 }, async () => {
  const room = `secret-${process.pid}`;
  const olga = await userPage('members-owner', 'Olga');
  const carol = await userPage('members-invited', 'Carol');

  await createRoomUi(olga.page, room, 'private');
  const listed = olga.page.locator(`#room-list button[data-room="${room}"]`);
  assert.equal(await listed.getAttribute('data-kind'), 'private');
  assert.equal(await listed.locator('.mark').textContent(), 'private', 'the list marks the private room');
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
  assert.deepEqual(await menuActions(carol.page, 'only for members'), ['dm'], 'a member does not moderate');
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

test('"Message <name>" on a message opens the direct conversation with its author', { timeout: 60000 }, async () => {
  const room = `dm-start-${process.pid}`;
  const bob = await registerApi('members-dm-bob', 'Bob');
  assert.equal((await api('POST', '/room/', { body: { name: room }, cookie: bob.cookie })).status, 201);
  await sendApi(bob.cookie, room, 'write to me');
  const alice = await userPage('members-dm-alice', 'Alice', room);
  await waitForText(alice.page, 'write to me');

  await messageAction(alice.page, 'write to me', 'dm');
  await alice.page.locator('#room-title[data-kind="direct"]', { hasText: '@ Bob' }).waitFor();
  const dm = decodeURIComponent(new globalThis.URL(alice.page.url()).hash.slice(1));
  assert.match(dm, /^dm-[0-9a-f]{40}$/);
  await alice.page.locator(`#room-list button[data-room="${dm}"][data-kind="direct"]`, { hasText: '@ Bob' }).waitFor();
  await sendUi(alice.page, 'hello Bob, directly');
  await waitForText(alice.page, 'hello Bob, directly');

  // the same room for Bob, listed as direct, with the message
  const rooms = await api('GET', '/room/', { cookie: bob.cookie });
  assert.ok(rooms.data.some((r) => r.name === dm && r.kind === 'direct'), JSON.stringify(rooms.data));
  const history = await api('GET', `/room/${dm}/message/`, { cookie: bob.cookie });
  assert.deepEqual(history.data.map((m) => m.text), ['hello Bob, directly']);
  assert.equal((await api('GET', `/room/${dm}/message/`)).status, 404, 'nobody else reads it');
  assert.deepEqual(alice.page.problems, []);
  await alice.context.close();
});
