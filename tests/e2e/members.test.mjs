// Private rooms, members, direct conversations and moderation in the web
// client (issue 19): a room created private is marked in the list; its
// owner invites a user by e-mail from the room's header and that user finds
// it in their list when their page is focused again, reads and writes it;
// leaving it takes it off the list, and the last owner is told why they
// cannot leave; a message's menu starts a direct conversation with its
// author, and gives owners and moderators the removal of the message, and
// the removal or ban of its author, which the page shows from the room
// events; a site administrator gets the same items in rooms of others; the
// member list lets an owner promote, demote, lift a ban and remove, a
// moderator only remove members; a public room is joined from its header
// or by name; a WebSocket's "unsubscribed" takes a room off the list with a
// notice, and its close with 4001 (a locked account) brings the log-in
// form. The other users act through the API where the page is not what is
// being tested.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  URL, PASSWORD, api, launch, uniqueEmail, registerApi, sendApi, newPage, waitForText, registerUi, sendUi,
  screenshot, streamOpened,
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

test('the message menu lets an owner remove a message, remove and ban its author', { timeout: 90000 }, async () => {
  const room = `moderated-${process.pid}`;
  const olga = await userPage('members-mod-owner', 'Olga');
  await createRoomUi(olga.page, room, 'private');
  const rita = await registerApi('members-mod-rita', 'Rita');
  const mallory = await registerApi('members-mod-mallory', 'Mallory');
  for (const user of [rita, mallory]) {
    const added = await api('POST', `/room/${room}/member`, { body: { userId: user.user.id }, cookie: (await cookieOf(olga.context)) });
    assert.equal(added.status, 200, JSON.stringify(added.data));
  }
  await sendApi(rita.cookie, room, 'rita was here');
  await sendApi(mallory.cookie, room, 'spam one');
  await sendApi(mallory.cookie, room, 'spam two');
  await waitForText(olga.page, 'spam two');
  assert.deepEqual(await menuActions(olga.page, 'spam one'), ['dm', 'remove-message', 'remove-member', 'ban']);

  const spam = olga.page.locator('#messages li.message', { hasText: 'spam one' });
  await spam.locator('.menu-button').click();
  await screenshot(olga.page, 'members-menu.png');
  await spam.locator('.message-menu button[data-action="remove-message"]').click();
  await olga.page.locator('#messages li.event', { hasText: 'A message was removed by a moderator.' }).waitFor();
  await olga.page.locator('#messages li.message', { hasText: 'spam one' }).waitFor({ state: 'detached' });

  await messageAction(olga.page, 'spam two', 'ban');
  await olga.page.locator('#messages li.event', { hasText: 'Olga banned Mallory from the room.' }).waitFor();
  const refused = await api('POST', `/room/${room}/message/`, { body: { text: 'again' }, cookie: mallory.cookie });
  assert.equal(refused.status, 404, 'a banned user no longer writes the private room');

  await messageAction(olga.page, 'rita was here', 'remove-member');
  await olga.page.locator('#messages li.event', { hasText: 'Olga removed Rita from the room.' }).waitFor();
  assert.equal((await api('GET', `/room/${room}/message/`, { cookie: rita.cookie })).status, 404);

  // errors in words: inviting somebody who is not registered, or a banned user
  await olga.page.fill('#invite-email', uniqueEmail('nobody'));
  await olga.page.click('#invite');
  await olga.page.locator('#room-action-error', { hasText: 'Nobody is registered with that e-mail address.' }).waitFor();
  await olga.page.fill('#invite-email', mallory.user.email);
  await olga.page.click('#invite');
  await olga.page.locator('#room-action-error', { hasText: 'That user is banned from this room' }).waitFor();
  assert.deepEqual(olga.page.problems, []);
  await olga.context.close();
});

test('a site administrator gets the moderation items in a room of others', { timeout: 60000 }, async () => {
  assert.ok(process.env.E2E_ADMIN_EMAIL, 'E2E_ADMIN_EMAIL is set (run tests/e2e/run.sh)');
  const room = `admin-moderated-${process.pid}`;
  const owner = await registerApi('members-admin-owner', 'Oscar');
  assert.equal((await api('POST', '/room/', { body: { name: room }, cookie: owner.cookie })).status, 201);
  await sendApi(owner.cookie, room, 'moderate me');
  const context = await browser.newContext();
  const page = await newPage(context);
  await page.goto(`${URL}/#${room}`);
  await registerUi(page, process.env.E2E_ADMIN_EMAIL, 'Admin');
  await waitForText(page, 'moderate me');
  assert.deepEqual(await menuActions(page, 'moderate me'), ['dm', 'remove-message', 'remove-member', 'ban']);
  await messageAction(page, 'moderate me', 'remove-message');
  await page.locator('#messages li.event', { hasText: 'A message was removed by a moderator.' }).waitFor();
  assert.deepEqual(page.problems, []);
  await context.close();
});

// The member row of userId in the open member list.
const memberRow = (page, userId) => page.locator(`#member-list li[data-user-id="${userId}"]`);

test('the member list: an owner promotes and demotes, lifts a ban and removes a member', { timeout: 90000 }, async () => {
  const room = `roster-${process.pid}`;
  const olga = await userPage('members-list-owner', 'Olga');
  await createRoomUi(olga.page, room, 'private');
  const rita = await registerApi('members-list-rita', 'Rita');
  const mallory = await registerApi('members-list-mallory', 'Mallory');
  const owner = await cookieOf(olga.context);
  for (const user of [rita, mallory]) {
    const added = await api('POST', `/room/${room}/member`, { body: { userId: user.user.id }, cookie: owner });
    assert.equal(added.status, 200, JSON.stringify(added.data));
  }
  const banned = await api('PUT', `/room/${room}/member`, { body: { userId: mallory.user.id, role: 'banned' }, cookie: owner });
  assert.equal(banned.status, 200, JSON.stringify(banned.data));

  await olga.page.click('#show-members');
  const ritaRow = memberRow(olga.page, rita.user.id);
  await ritaRow.locator('.member-name', { hasText: 'Rita' }).waitFor();
  assert.equal(await ritaRow.getAttribute('data-role'), 'member');
  assert.equal(await memberRow(olga.page, mallory.user.id).getAttribute('data-role'), 'banned');
  const me = olga.page.locator('#member-list li[data-role="owner"]');
  assert.equal(await me.locator('.member-role').textContent(), 'owner (you)');
  assert.equal(await me.locator('.member-actions button').count(), 0, 'nothing to do to oneself');
  await screenshot(olga.page, 'members-list.png');

  // promote, then demote
  await ritaRow.locator('button[data-action="role-moderator"]').click();
  await olga.page.locator('#member-list li[data-role="moderator"]', { hasText: 'Rita' }).waitFor();
  await olga.page.locator('#messages li.event', { hasText: 'Olga made Rita a moderator.' }).waitFor();
  let rooms = await api('GET', '/room/', { cookie: rita.cookie });
  assert.equal(rooms.data.find((r) => r.name === room).role, 'moderator');
  await ritaRow.locator('button[data-action="role-member"]').click();
  await olga.page.locator('#member-list li[data-role="member"]', { hasText: 'Rita' }).waitFor();
  rooms = await api('GET', '/room/', { cookie: rita.cookie });
  assert.equal(rooms.data.find((r) => r.name === room).role, 'member');

  // lift the ban: Mallory is no longer listed (not a member), and may be invited again
  await memberRow(olga.page, mallory.user.id).locator('button[data-action="unban"]').click();
  await olga.page.locator('#messages li.event', { hasText: 'Olga lifted the ban on Mallory.' }).waitFor();
  await memberRow(olga.page, mallory.user.id).waitFor({ state: 'detached' });
  const again = await api('POST', `/room/${room}/member`, { body: { userId: mallory.user.id }, cookie: owner });
  assert.equal(again.status, 200, 'the ban is gone');

  // remove Rita from the list
  await ritaRow.locator('button[data-action="remove"]').click();
  await olga.page.locator('#messages li.event', { hasText: 'Olga removed Rita from the room.' }).waitFor();
  await ritaRow.waitFor({ state: 'detached' });
  assert.equal((await api('GET', `/room/${room}/message/`, { cookie: rita.cookie })).status, 404);
  assert.deepEqual(olga.page.problems, []);
  await olga.context.close();
});

test('a moderator\'s member list: members can be removed, an owner not, no roles given', { timeout: 60000 }, async () => {
  const room = `roster-ranks-${process.pid}`;
  const oscar = await registerApi('members-ranks-owner', 'Oscar');
  assert.equal((await api('POST', '/room/', { body: { name: room }, cookie: oscar.cookie })).status, 201);
  const mia = await userPage('members-ranks-mod', 'Mia', room);
  const nick = await registerApi('members-ranks-member', 'Nick');
  const miaCookie = await cookieOf(mia.context);
  for (const [who, cookie] of [['Mia', miaCookie], ['Nick', nick.cookie]]) {
    assert.equal((await api('POST', `/room/${room}/member`, { body: {}, cookie })).status, 200, `${who} joins`);
  }
  const mod = await api('PUT', `/room/${room}/member`, { body: { userId: (await api('GET', '/user/', { cookie: miaCookie })).data.id, role: 'moderator' }, cookie: oscar.cookie });
  assert.equal(mod.status, 200, JSON.stringify(mod.data));
  await mia.page.evaluate(() => window.dispatchEvent(new Event('focus'))); // her role, from the list
  await mia.page.locator(`#room-list button[data-room="${room}"]`).waitFor();
  await mia.page.waitForFunction(() => !document.querySelector('#invite-form').hidden);
  await mia.page.click('#show-members');
  await memberRow(mia.page, nick.user.id).waitFor();
  assert.deepEqual(await memberRow(mia.page, nick.user.id).locator('button').evaluateAll((b) => b.map((x) => x.dataset.action)),
    ['remove'], 'a moderator removes a member, gives no roles');
  assert.equal(await memberRow(mia.page, oscar.user.id).locator('button').count(), 0, 'nor acts on an owner');
  assert.deepEqual(mia.page.problems, []);
  await mia.context.close();
});

test('joining a public room from its header and by name', { timeout: 60000 }, async () => {
  const first = `open-house-${process.pid}`, second = `open-yard-${process.pid}`, hidden = `closed-${process.pid}`;
  const bob = await registerApi('members-join-bob', 'Bob');
  for (const [name, kind] of [[first, 'public'], [second, 'public'], [hidden, 'private']]) {
    assert.equal((await api('POST', '/room/', { body: { name, kind }, cookie: bob.cookie })).status, 201);
  }
  await sendApi(bob.cookie, first, 'come in');
  const alice = await userPage('members-join-alice', 'Alice', first);
  await waitForText(alice.page, 'come in');
  await alice.page.locator('#join-room').waitFor();
  assert.ok(await alice.page.locator('#leave-room').isHidden(), 'not a member yet');
  await alice.page.click('#join-room');
  await alice.page.locator('#room-note', { hasText: `You joined #${first}.` }).waitFor();
  await alice.page.locator('#messages li.event', { hasText: 'Alice joined the room.' }).waitFor();
  await alice.page.locator('#leave-room').waitFor();
  assert.ok(await alice.page.locator('#join-room').isHidden());

  await alice.page.fill('#join-name', second);
  await alice.page.click('#join-form button[type="submit"]');
  await alice.page.locator('#room-title', { hasText: second }).waitFor();
  await alice.page.locator('#messages li.event', { hasText: 'Alice joined the room.' }).waitFor();
  const cookie = await cookieOf(alice.context);
  const rooms = (await api('GET', '/room/', { cookie })).data;
  for (const name of [first, second]) assert.equal(rooms.find((r) => r.name === name).role, 'member', name);

  await alice.page.fill('#join-name', hidden);
  await alice.page.click('#join-form button[type="submit"]');
  await alice.page.locator('#join-error', { hasText: 'There is no public room of that name.' }).waitFor();
  assert.equal((await api('GET', `/room/${hidden}/message/`, { cookie })).status, 404);
  assert.deepEqual(alice.page.problems, []);
  await alice.context.close();
});

test('over the WebSocket, a member taken out of a private room loses it with a notice', { timeout: 60000 }, async () => {
  const room = `revoked-ws-${process.pid}`;
  const olga = await registerApi('members-ws-owner', 'Olga');
  assert.equal((await api('POST', '/room/', { body: { name: room, kind: 'private' }, cookie: olga.cookie })).status, 201);
  const carol = await userPage('members-ws-carol', 'Carol');
  const frames = [];
  carol.page.on('websocket', (ws) => ws.on('framereceived', (f) => {
    try { frames.push(JSON.parse(String(f.payload))); } catch { /* not JSON */ }
  }));
  const followed = streamOpened(carol.context, room);
  const added = await api('POST', `/room/${room}/member`, { body: { email: carol.email }, cookie: olga.cookie });
  assert.equal(added.status, 200, JSON.stringify(added.data));
  await carol.page.evaluate(() => window.dispatchEvent(new Event('focus')));
  const listed = carol.page.locator(`#room-list button[data-room="${room}"]`);
  await listed.click();
  await followed;
  await sendApi(olga.cookie, room, 'before the removal');
  await waitForText(carol.page, 'before the removal');
  assert.ok(frames.some((m) => m.type === 'subscribed' && m.room === room), 'the page follows it over a WebSocket');

  const removed = await api('DELETE', `/room/${room}/member?userId=${added.data.userId}`, { cookie: olga.cookie });
  assert.equal(removed.status, 200);
  await carol.page.locator('#room-note', { hasText: `You no longer have access to #${room}.` }).waitFor();
  await carol.page.locator('#room-title', { hasText: 'lobby' }).waitFor();
  await listed.waitFor({ state: 'detached' });
  assert.ok(frames.some((m) => m.type === 'unsubscribed' && m.room === room && m.reason === 'revoked'));
  assert.deepEqual(carol.page.problems, []);
  await carol.context.close();
});

test('a locked account\'s page goes to the log-in form when its WebSocket closes with 4001', { timeout: 60000 }, async () => {
  assert.ok(process.env.E2E_ADMIN_EMAIL, 'E2E_ADMIN_EMAIL is set (run tests/e2e/run.sh)');
  const credentials = { email: process.env.E2E_ADMIN_EMAIL, password: PASSWORD };
  let admin = await api('PUT', '/user/', { body: credentials }); // registered by an earlier test, or now
  if (admin.status !== 200) admin = await api('POST', '/user/', { body: { ...credentials, name: 'Admin' } });
  const adminCookie = admin.cookie;
  assert.ok(adminCookie, `the administrator's session (${admin.status})`);
  const context = await browser.newContext();
  const dave = { context, page: await newPage(context) };
  const closes = [];
  dave.page.on('websocket', (ws) => ws.on('close', () => closes.push(ws.url())));
  const followed = streamOpened(context, 'lobby'); // before the page opens its WebSocket
  await dave.page.goto(`${URL}/#lobby`);
  await registerUi(dave.page, uniqueEmail('members-lock-dave'), 'Dave');
  await followed;
  const id = (await api('GET', '/user/', { cookie: await cookieOf(dave.context) })).data.id;
  assert.equal((await api('PUT', `/user/${id}/lock`, { cookie: adminCookie })).status, 204);
  await dave.page.locator('#auth-view').waitFor();
  await dave.page.locator('#auth-error', { hasText: 'Your session has ended' }).waitFor();
  assert.ok(closes.length >= 1, 'the WebSocket was closed');
  assert.equal((await api('DELETE', `/user/${id}/lock`, { cookie: adminCookie })).status, 204);
  assert.deepEqual(dave.page.problems, []);
  await dave.context.close();
});
