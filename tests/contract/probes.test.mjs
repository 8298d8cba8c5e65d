// Requests to the operations the integration tests do not make, through the
// checking proxy (CONTRACT_URL), so that proxy.mjs checks their answers too.
import { test } from 'node:test';
import assert from 'node:assert/strict';

const base = process.env.CONTRACT_URL;

test('GET /ready answers ready', async () => {
  const res = await fetch(`${base}/ready`);
  assert.equal(res.status, 200);
  assert.equal((await res.json()).status, 'ready');
});

test('GET /message/stream opens the lobby stream', async () => {
  const abort = new AbortController();
  const res = await fetch(`${base}/message/stream`, { signal: abort.signal });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (!text.includes(': connected\n\n')) {
    const { value, done } = await reader.read();
    assert.ok(!done, 'the stream ended before ": connected"');
    text += decoder.decode(value, { stream: true });
  }
  abort.abort();
  await reader.cancel().catch(() => {});
});

test('POST /user/token without a token key is token_login_off', async () => {
  const res = await fetch(`${base}/user/token`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"token":"a.b.c"}',
  });
  assert.equal(res.status, 404);
  assert.equal((await res.json()).error.code, 'token_login_off');
});
