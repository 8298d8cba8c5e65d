// Resume after a crash: a stream on a chatd of its own, which is killed with
// SIGKILL while messages go on being sent through another chatd, and started
// again on the same port. The stream reconnects with backoff and resumes from
// each room's last id: every message arrives, once, in order, over both
// transports. Prints how long the stream took to be live again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { URL_A, newUser, unique, next, until, whenLive, startChatd, client, keep } from './lib.mjs';

for (const transport of ['ws', 'sse']) {
  test(`${transport}: kill -9 of the stream's chatd loses nothing and repeats nothing`, async () => {
    const d = await startChatd();
      const sender = await newUser(URL_A); // sends through chatd A all along
    const room = unique(`crash-${transport}`);
    const other = unique(`crash2-${transport}`);
    await sender.createRoom(room);
    await sender.createRoom(other);
    const reader = client(d.url, { token: (await newUser(URL_A)).token }); // a session works on any chatd
    await reader.me();
    const s = keep(reader.stream({ rooms: [room, other], transport }));
    const got = [];
    s.on('message', (m) => got.push(`${m.room}/${m.id}`)); // ids are per room: two rooms may share one
    const states = [];
    s.on('state', (state) => states.push(state));
    await whenLive(s);
    const sent = [];
    const sendSome = async (n, tag) => {
      for (let i = 0; i < n; i++) {
        const to = i % 2 ? other : room;
        sent.push(`${to}/${(await sender.send(to, `${tag} ${i}`)).id}`);
      }
    };
    await sendSome(6, 'before');
    await until(() => got.length === 6, 'the first six messages');

    const down = next(s, 'state', (x) => x === 'reconnecting');
    await d.kill();
    await down;
    await sendSome(6, 'while down');
    const t0 = Date.now();
    const up = next(s, 'live');
    await d.start();
    await up;
    const back = Date.now() - t0;
    await sendSome(6, 'after');
    await until(() => got.length >= 18, 'all eighteen messages');
    await sendSome(2, 'last'); // one to each room: a duplicate of an earlier one would come before it
    await until(() => got.length >= 20 && got.includes(sent[18]) && got.includes(sent[19]), 'the last two');
    s.close();

    const byRoom = (keys, name) => keys.filter((key) => key.startsWith(`${name}/`));
    assert.equal(new Set(got).size, got.length, 'no message twice');
    assert.deepEqual([...got].sort(), [...sent].sort(), 'every message, none lost');
    assert.deepEqual(byRoom(got, room), byRoom(sent, room), 'in order per room');
    assert.deepEqual(byRoom(got, other), byRoom(sent, other), 'in order per room');
    assert.ok(states.includes('reconnecting'));
    console.log(`# ${transport}: live again ${back} ms after chatd was started again (its start-up included); 20 of 20 messages, 0 duplicates`);
  });
}

test('a new stream resumes from positions kept by an earlier one', async () => {
  const sender = await newUser(URL_A);
  const room = unique('positions');
  await sender.createRoom(room);
  const first = keep(sender.stream({ rooms: [room], transport: 'ws' }));
  await whenLive(first);
  const arrived = next(first, 'message');
  const a = await sender.send(room, 'one');
  assert.equal((await arrived).id, a.id);
  const kept = first.positions;
  first.close();
  const b = await sender.send(room, 'two');
  const c = await sender.send(room, 'three');
  const second = keep(sender.stream({ rooms: [room], positions: kept, transport: 'sse' }));
  const got = [];
  second.on('message', (m) => got.push(m.id));
  await until(() => got.length >= 2, 'the two messages sent meanwhile');
  second.close();
  assert.deepEqual(got, [b.id, c.id]);
});
