// A typed use of the client: `tsc --noEmit` (run.sh) checks it against
// web/clusterchat.d.ts, so the declarations cannot drift from how the
// client is meant to be used. It is never run.
import {
  ChatClient, ChatError, ChatStream, compareIds, statusOfCode, type Message, type SentMessage, type HistoryPage,
  type Member, type Room, type User,
} from '../../web/clusterchat.js';

async function use(): Promise<void> {
  const chat = new ChatClient({ baseUrl: 'http://127.0.0.1:8182', retryBudgetMs: 10000 });
  const me: User = await chat.login({ email: 'ann@example.com', password: 'correct horse' });
  const viaToken: User = await chat.loginWithToken('header.claims.signature');
  const rooms: Room[] = await chat.allRooms();
  await chat.createRoom('team', { kind: 'private' });
  await chat.invite('team', 'bob@example.com');
  await chat.setRole('team', { userId: me.id }, 'moderator');
  const members: Member[] = await chat.members('team');
  const sent: SentMessage = await chat.send('team', 'hello', { clientMsgId: 'my-key-1' });
  const replayed: boolean = sent.replayed;
  await chat.send('team', 'hello to you', { replyTo: sent.id });
  await chat.editMessage('team', sent.id, 'hello again');
  const page: HistoryPage = await chat.newest('team', 20);
  const older = page.nextBefore ? await chat.history('team', { before: page.nextBefore }) : null;
  chat.on('retry', (info) => console.log(info.attempt, info.error.code, info.delayMs, info.via === 'ws'));
  const byPost = new ChatClient({ sendTransport: 'post', sendTimeoutMs: 5000 });
  byPost.sendTransport = 'auto';
  const status: number = statusOfCode('rate_limited');

  const stream: ChatStream = chat.stream({ rooms: ['team', 'lobby'], positions: { team: sent.id } });
  stream.on('message', (m: Message) => console.log(m.room, m.text));
  stream.on('edited', (e) => console.log(e.target, e.text));
  stream.on('removed', (e) => console.log(e.target));
  stream.on('member', (e) => console.log(e.event, e.target, e.role));
  stream.on('gap', (g) => console.log(g.first));
  stream.on('reaction', (r) => console.log(r.target, r.emoji, r.action));
  const signals = chat.stream({ rooms: ['team'], signals: true, user: true });
  signals.on('typing', (t) => console.log(t.name, t.expiresIn, t.stopped === true));
  signals.on('presence', (p) => console.log(p.room, p.count, p.joined?.length));
  signals.on('marker', (k) => console.log(k.room, k.id));
  signals.on('entry', (e) => console.log(e.kind, e.room, e.data.id));
  stream.on('event', (e) => console.log(e.kind, e.room, e.data));
  stream.on('state', (s) => console.log(s === 'live'));
  stream.on('error', (e: ChatError) => console.log(e.code, e.status, e.retryAfter));
  await stream.once('live');
  stream.add('support');
  const resume: Record<string, string> = stream.positions;
  stream.close();
  try {
    await chat.send('nope', 'x');
  } catch (e) {
    if (e instanceof ChatError && e.status === 429) console.log(e.retryAfter);
  }
  console.log(byPost, status, viaToken, rooms, members, replayed, older, resume, compareIds('1-1', '1-2'));
  await chat.logout();
}
void use;
