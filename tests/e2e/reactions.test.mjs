// Reactions and replies in the web client (issue 20): each message has a
// picker of a few emoji; a reaction made in one browser shows its count in
// another live, and after a reload with the reader's own marked pressed;
// taking it back lowers the count. "Reply" shows the quote above the
// composer, and the reply carries the quote in both browsers.
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

function thumbsOf(page, text) {
  return messageOf(page, text).locator('.reaction[data-emoji="👍"]');
}

// Waits until the 👍 button of the message reads want (the bar is drawn
// anew on each change, so the button is looked up each time).
function thumbsRead(page, text, want) {
  return page.waitForFunction(([t, w]) => [...document.querySelectorAll('#messages li.message')]
    .some((li) => li.querySelector('.text')?.textContent === t &&
      li.querySelector('.reaction[data-emoji="👍"]')?.textContent === w),
  [text, want], { timeout: 20000 });
}

test('reactions count live and after a reload; replies quote their message', { timeout: 120000 }, async () => {
  const room = `reactions-${process.pid}`;
  await createRoomApi(room);
  const ann = await userPage('react-ann', 'Ann', room);
  const ben = await userPage('react-ben', 'Ben', room);
  await sendUi(ann.page, 'lunch at noon?');
  await waitForText(ben.page, 'lunch at noon?');

  const picker = await messageOf(ben.page, 'lunch at noon?').locator('.reaction')
    .evaluateAll((b) => b.map((x) => x.dataset.emoji));
  assert.deepEqual(picker, ['👍', '❤️', '😂', '🎉', '😮', '😢']);

  await thumbsOf(ben.page, 'lunch at noon?').click();
  await thumbsRead(ben.page, 'lunch at noon?', '👍 1');
  await thumbsRead(ann.page, 'lunch at noon?', '👍 1');
  assert.equal(await thumbsOf(ben.page, 'lunch at noon?').getAttribute('aria-pressed'), 'true');
  assert.equal(await thumbsOf(ann.page, 'lunch at noon?').getAttribute('aria-pressed'), 'false');
  await thumbsOf(ann.page, 'lunch at noon?').click();
  await thumbsRead(ben.page, 'lunch at noon?', '👍 2');

  await ben.page.reload();
  await waitForText(ben.page, 'lunch at noon?');
  await thumbsRead(ben.page, 'lunch at noon?', '👍 2');
  assert.equal(await thumbsOf(ben.page, 'lunch at noon?').getAttribute('aria-pressed'), 'true');
  assert.equal(await ben.page.locator('#messages li.event').count(), 0, 'a reaction is not shown as an event');

  await thumbsOf(ben.page, 'lunch at noon?').click(); // taken back
  await thumbsRead(ann.page, 'lunch at noon?', '👍 1');
  await thumbsRead(ben.page, 'lunch at noon?', '👍 1');
  assert.equal(await thumbsOf(ben.page, 'lunch at noon?').getAttribute('aria-pressed'), 'false');

  await messageOf(ben.page, 'lunch at noon?').locator('.reply-button').click();
  await ben.page.locator('#reply-bar', { hasText: 'Replying to Ann: lunch at noon?' }).waitFor();
  await sendUi(ben.page, 'yes, the usual place');
  assert.equal(await ben.page.locator('#reply-bar').isHidden(), true);
  for (const page of [ann.page, ben.page]) {
    await waitForText(page, 'yes, the usual place');
    const quote = messageOf(page, 'yes, the usual place').locator('blockquote.quote');
    await quote.waitFor();
    assert.equal(await quote.textContent(), 'Ann: lunch at noon?');
  }
  await ann.page.reload();
  await waitForText(ann.page, 'yes, the usual place');
  assert.equal(await messageOf(ann.page, 'yes, the usual place').locator('blockquote.quote').textContent(),
    'Ann: lunch at noon?');
  assert.deepEqual(ann.page.problems, []);
  assert.deepEqual(ben.page.problems, []);
  await ann.context.close();
  await ben.context.close();
});
