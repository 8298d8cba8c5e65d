// The web client on both addresses of the load balancer: on HTTPS the page
// comes over HTTP/2 and the session cookie is Secure; plain HTTP still works
// the same (HTTP/1.1, a cookie without Secure). tests/e2e/run.sh starts the
// system; Chromium accepts its self-signed certificate (lib.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  URL, HTTP_URL, launch, uniqueEmail, registerApi, sendApi, newPage, waitForText, registerUi, sendUi,
} from './lib.mjs';

let browser;

before(async () => {
  assert.ok(URL && HTTP_URL, 'E2E_URL and E2E_HTTP_URL are set (run tests/e2e/run.sh)');
  assert.ok(URL.startsWith('https://'), `E2E_URL is the HTTPS address (${URL})`);
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
});

// The protocol the page itself was fetched with ('h2', 'http/1.1').
function pageProtocol(page) {
  return page.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol);
}

// Registers in a fresh context on base, checks the protocol and the
// cookie's Secure flag, then exchanges messages live with an API user.
async function chatOn(base, protocol, secure) {
  const context = await browser.newContext();
  const page = await newPage(context);
  await page.goto(base + '/');
  assert.equal(await pageProtocol(page), protocol);
  await registerUi(page, uniqueEmail('proto'), 'Proto');
  const cookies = await context.cookies(base);
  const session = cookies.find((c) => c.name === (secure ? '__Host-authKey' : 'authKey'));
  assert.ok(session, 'the session cookie is set');
  assert.equal(session.secure, secure, `the cookie is ${secure ? '' : 'not '}Secure`);

  const text = `from the page over ${protocol} ${Date.now()}`;
  await sendUi(page, text);
  await waitForText(page, text);
  const { cookie } = await registerApi('proto-peer', 'Peer');
  const reply = `to the page over ${protocol} ${Date.now()}`;
  await sendApi(cookie, 'lobby', reply);
  await waitForText(page, reply); // live, over the page's event stream
  assert.deepEqual(page.problems, []);
  await context.close();
}

test('the web client names no scheme, host or port: it works on any address', () => {
  const web = join(import.meta.dirname, '..', '..', 'web');
  for (const file of readdirSync(web).filter((f) => /\.(html|js|css)$/.test(f))) {
    const text = readFileSync(join(web, file), 'utf8');
    assert.doesNotMatch(text, /(https?|wss?):\/\//i, `${file} has an absolute URL`);
    assert.doesNotMatch(text, /localhost|127\.0\.0\.1|:8182\b|:8443\b/, `${file} names a host or port`);
  }
});

test('HTTPS: the page comes over HTTP/2, the session cookie is Secure, messages arrive live', { timeout: 60000 }, async () => {
  await chatOn(URL, 'h2', true);
});

test('plain HTTP on the other address works the same (HTTP/1.1, no Secure cookie)', { timeout: 60000 }, async () => {
  await chatOn(HTTP_URL, 'http/1.1', false);
});
