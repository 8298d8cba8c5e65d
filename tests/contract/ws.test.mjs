// GET /ws through the checking proxy (CONTRACT_URL): the upgrade and its
// JSON refusals, over raw sockets, so that proxy.mjs sees and checks each
// answer. The WebSocket itself is tests/ws's business.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

const base = new URL(process.env.CONTRACT_URL);

// Sends one request head and resolves with the answer's status line once the
// head has arrived (the socket is then closed).
function ask(headers) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(base.port), base.hostname, () => {
      const lines = ['GET /ws HTTP/1.1', `Host: ${base.host}`, ...headers];
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
    let text = '';
    socket.on('data', (bytes) => {
      text += bytes.toString('latin1');
      if (!text.includes('\r\n\r\n')) return;
      socket.end();
      resolve(Number(text.split(' ')[1]));
    });
    socket.on('error', reject);
  });
}

const key = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==';

test('a valid upgrade is answered 101', async () => {
  assert.equal(await ask(['Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13', key]), 101);
});

test('a bad key, another version and no upgrade are JSON refusals', async () => {
  assert.equal(await ask(['Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Key: short']), 400);
  assert.equal(await ask(['Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 8', key]), 426);
  assert.equal(await ask(['Connection: close']), 426);
});
