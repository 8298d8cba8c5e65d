/*
 * clusterchat.js: the JavaScript client of chatd's API (docs/API.md, section
 * "JavaScript client"), an ES module without a build step, typed by
 * clusterchat.d.ts beside it. It runs in browsers (chatd serves it as
 * /clusterchat.js) and in Node 18 or later (global fetch; give it npm's `ws`
 * as its WebSocket, or it reads the event stream over fetch).
 *
 * - Requests go through fetch. In a browser the session is chatd's HttpOnly
 *   cookie; in Node the client keeps the token from Set-Cookie itself and
 *   sends it as `Authorization: Bearer`.
 * - Sends leave one at a time, in the order they were made (an outbox), each
 *   with a clientMsgId made once, so that a resend after a lost answer, a
 *   503 or a 502/504 stores nothing twice; a 429 or 503 is waited out for
 *   at least its Retry-After. While a stream of the client has a WebSocket
 *   ready, a send goes over it and its ack answers it; without one, when
 *   the socket closes before the ack or the ack is late, the same send goes
 *   by POST (the same clientMsgId: the server answers the replay).
 * - A stream follows rooms over a WebSocket (/ws) or Server-Sent Events
 *   (/stream?rooms=, read with fetch), keeps each room's last id and resumes
 *   from it after every reconnect, drops what it has already delivered, and
 *   hands out every event by kind; kinds it does not know are passed on as
 *   they came, so that a newer server does not break it.
 */

/** A "before" above every id: the newest page of a room. */
export const NEWEST = '99999999999999';
/** chatd's limit of rooms per stream. */
export const STREAM_ROOMS_MAX = 32;

const MEMBER_EVENTS = new Set(['joined', 'left', 'invited', 'removed', 'banned', 'unbanned', 'role']);
const REVOKING_EVENTS = new Set(['left', 'removed', 'banned']);

// ---- pure helpers (no I/O) ----

/** Compares two ids "<ms>-<seq>" (decimal, no leading zeros) as numbers. */
export function compareIds(a, b) {
  const [am, as = '0'] = String(a).split('-');
  const [bm, bs = '0'] = String(b).split('-');
  const num = (x, y) => (x.length - y.length) || (x < y ? -1 : x > y ? 1 : 0);
  return num(am, bm) || num(as, bs);
}

/** Parses a multi-room stream position "a:<id>,b:<id>" into a Map room → id. */
export function parsePosition(text) {
  const map = new Map();
  for (const pair of String(text || '').split(',')) {
    const at = pair.indexOf(':');
    if (at > 0) map.set(pair.slice(0, at), pair.slice(at + 1));
  }
  return map;
}

/** The kind of a stored entry: message, edited, removed, member, or its own event name. */
export function kindOf(entry) {
  const event = entry && entry.event;
  if (typeof event !== 'string') return 'message';
  if (event === 'edited') return 'edited';
  if (event === 'message_removed') return 'removed';
  if (MEMBER_EVENTS.has(event)) return 'member';
  return event;
}

let idCounter = 0;
/** A new clientMsgId: "js-" and 24 hex digits (random where Web Crypto exists). */
export function newClientMsgId() {
  const bytes = new Uint8Array(12);
  const c = globalThis.crypto;
  if (c && typeof c.getRandomValues === 'function') c.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  // time and a counter too, so that ids stay apart without Web Crypto (Node 18)
  const stamp = (Date.now() * 1024 + (++idCounter % 1024)) % 2 ** 48;
  for (let i = 0; i < 6; i++) bytes[i] ^= Math.floor(stamp / 2 ** (8 * i)) & 255;
  return 'js-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The session token a Set-Cookie header carries (`__Host-authKey` or
 * `authKey`): the token, '' when it clears the cookie, undefined when none.
 */
export function sessionFromSetCookie(header) {
  if (!header) return undefined;
  let found;
  for (const m of String(header).matchAll(/(?:^|[;,]\s*)(?:__Host-)?authKey=([A-Za-z0-9_-]*)/g)) {
    if (m[1]) return m[1];
    found = '';
  }
  return found;
}

// The HTTP status of each error code a WebSocket's `error` frame can carry
// (docs/API.md, "Errors"): a refused send rejects as its POST would have.
const ERROR_STATUS = {
  bad_json: 400, bad_request: 400, invalid_room: 400, invalid_query: 400, invalid_text: 400,
  invalid_client_msg_id: 400, invalid_reply_to: 400, unauthorized: 401, banned: 403,
  room_not_allowed: 403, forbidden: 403, not_found: 404, reply_not_found: 404, rate_limited: 429,
  internal: 500, unavailable: 503, storage_full: 507,
};

/** The HTTP status of chatd's error code (400 for a code this client does not know). */
export function statusOfCode(code) {
  return Object.hasOwn(ERROR_STATUS, code) ? ERROR_STATUS[code] : 400;
}

/** Retry-After in whole seconds, 0 when absent. */
function retryAfterOf(headers) {
  const seconds = parseInt(headers.get('Retry-After') || '', 10);
  return Number.isFinite(seconds) && seconds > 0 ? seconds : 0;
}

/**
 * How long to wait before trying a retryable request again after error e
 * (attempt counts from 0), or -1 when it must not be repeated: no answer and
 * a load balancer's 502/504 back off; a 429 or 503 waits at least its
 * Retry-After.
 */
export function retryDelayMs(e, attempt, { baseMs = 250, maxMs = 5000 } = {}) {
  if (!(e instanceof ChatError)) return -1;
  const backoff = Math.min(baseMs * 2 ** attempt, maxMs);
  if (e.status === 429 || e.status === 503) return Math.max(e.retryAfter * 1000, backoff);
  if (e.status === 0 || e.status === 502 || e.status === 504) return backoff;
  return -1;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const jitter = (ms) => Math.round(ms * (0.8 + 0.4 * Math.random()));
const roomBase = (room) => '/room/' + encodeURIComponent(room);

/** An error of the API: the HTTP status (0: no answer), chatd's code and Retry-After. */
export class ChatError extends Error {
  constructor(status, code, message, { retryAfter = 0, requestId = null, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ChatError';
    this.status = status;         // HTTP status, 0 when the server could not be reached
    this.code = code;             // chatd's error code ("offline" without an answer)
    this.retryAfter = retryAfter; // seconds the server asked to wait (Retry-After), or 0
    this.requestId = requestId;   // X-Request-Id of the answer, when there was one
  }
}

/** A small event emitter: on(kind, fn) returns the function that removes fn. */
class Emitter {
  #listeners = new Map();

  on(kind, fn) {
    if (!this.#listeners.has(kind)) this.#listeners.set(kind, new Set());
    this.#listeners.get(kind).add(fn);
    return () => this.off(kind, fn);
  }

  off(kind, fn) {
    const set = this.#listeners.get(kind);
    if (set) set.delete(fn);
  }

  /** Resolves with the next event of kind for which test(data) holds. */
  once(kind, test = () => true) {
    return new Promise((resolve) => {
      const off = this.on(kind, (data) => {
        if (!test(data)) return;
        off();
        resolve(data);
      });
    });
  }

  emit(kind, data) {
    const set = this.#listeners.get(kind);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(data);
      } catch (e) {
        setTimeout(() => { throw e; }); // a listener's fault is not the client's
      }
    }
  }
}

// ---- sends over a stream's WebSocket ----

// Why a send over a WebSocket got no answer: the socket closed first, or
// the ack was late. The send goes by POST then.
class SocketLost extends Error {}

// chatd's largest WebSocket message: a longer frame would close the socket.
const SOCKET_MESSAGE_MAX = 32768;
const ROOM_NAME = /^[a-z0-9_-]{1,64}$/;
// Refusals of a send's members that chatd answers before it has read the
// clientMsgId: their error frame names none.
const UNNAMED_SEND_ERRORS = new Set(['invalid_text', 'invalid_client_msg_id', 'invalid_reply_to']);

/**
 * The WebSockets a client's streams have ready, which its sends use: a
 * stream lends its socket on `ready` and takes it back before it closes.
 * send() writes one `send` frame and settles on the frame that answers it
 * (an `ack` or an `error` with its clientMsgId, or an error above without
 * one: the client's outbox has one send on its way at a time), or rejects
 * with SocketLost. A socket that let an answer be late carries no more
 * sends until that answer came, so that it is never taken for another's.
 */
class SocketSends {
  #sockets = [];        // ready sockets, the newest last
  #waiting = new Map(); // clientMsgId → {ws, resolve, reject, timer}
  #late = new Map();    // socket → the clientMsgId whose answer it let be late

  lend(ws) {
    if (!this.#sockets.includes(ws)) this.#sockets.push(ws);
  }

  takeBack(ws) {
    this.#sockets = this.#sockets.filter((s) => s !== ws);
    this.#late.delete(ws);
    for (const [id, w] of this.#waiting) {
      if (w.ws === ws) this.#settle(id, null, new SocketLost('the WebSocket closed before the answer'));
    }
  }

  /** Whether a send frame can go over a socket at all (its room, its size). */
  static fits(frame) {
    return ROOM_NAME.test(frame.room) && new TextEncoder().encode(JSON.stringify(frame)).length <= SOCKET_MESSAGE_MAX;
  }

  /** The newest socket that is open, or null (also while the browser says it is offline). */
  open() {
    if (globalThis.navigator && globalThis.navigator.onLine === false) return null;
    for (let i = this.#sockets.length - 1; i >= 0; i--) {
      if (this.#sockets[i].readyState === 1) return this.#sockets[i];
    }
    return null;
  }

  send(ws, frame, timeoutMs) {
    const id = frame.clientMsgId;
    return new Promise((resolve, reject) => {
      const late = () => {
        this.#sockets = this.#sockets.filter((s) => s !== ws);
        this.#late.set(ws, id);
        this.#settle(id, null, new SocketLost('no answer in time'));
      };
      const timer = setTimeout(late, timeoutMs);
      this.#waiting.set(id, { ws, resolve, reject, timer });
      try {
        ws.send(JSON.stringify(frame));
      } catch (e) {
        this.#settle(id, null, new SocketLost('the WebSocket refused the frame'));
      }
    });
  }

  /** Takes m, a frame that came on ws, when it answers a send: true then. */
  answer(ws, m) {
    let id = m.clientMsgId;
    const unnamed = typeof id !== 'string';
    if (unnamed && (m.type !== 'error' || !UNNAMED_SEND_ERRORS.has(m.code))) return false;
    if (this.#late.has(ws) && (unnamed || this.#late.get(ws) === id)) { // caught up: sends again
      this.#late.delete(ws);
      this.lend(ws);
      return true;
    }
    if (unnamed) id = [...this.#waiting].find(([, w]) => w.ws === ws)?.[0];
    if (id !== undefined) this.#settle(id, m, null); // a late answer finds nobody waiting
    return true;
  }

  #settle(id, reply, error) {
    const w = this.#waiting.get(id);
    if (!w) return;
    this.#waiting.delete(id);
    clearTimeout(w.timer);
    if (error) w.reject(error);
    else w.resolve(reply);
  }
}

// ---- the client ----

export class ChatClient extends Emitter {
  #fetch;
  #token;
  #outbox = [];
  #draining = false;
  #sockets = new SocketSends();

  /**
   * options: baseUrl ('' in a browser: the page's own server), fetch,
   * WebSocket (a constructor; npm's `ws` in Node), token (a session token to
   * start with), credentials (fetch's, 'same-origin'), retryBudgetMs (30000:
   * how long a send or read is repeated), transport ('auto', 'ws' or 'sse'),
   * sendTransport ('auto': over a stream's ready WebSocket when there is
   * one, else POST; 'post': always POST), sendTimeoutMs (10000: how long a
   * send over a WebSocket waits for its ack before it goes by POST).
   */
  constructor(options = {}) {
    super();
    this.baseUrl = String(options.baseUrl || '').replace(/\/+$/, '');
    const f = options.fetch || globalThis.fetch;
    if (typeof f !== 'function') throw new TypeError('clusterchat: no fetch');
    this.#fetch = (...args) => f(...args);
    this.WebSocket = options.WebSocket || globalThis.WebSocket || null;
    this.#token = options.token || null;
    this.credentials = options.credentials || 'same-origin';
    this.retryBudgetMs = options.retryBudgetMs ?? 30000;
    this.transport = options.transport || 'auto';
    this.sendTransport = options.sendTransport || 'auto';
    this.sendTimeoutMs = options.sendTimeoutMs ?? 10000;
    this.user = null; // {id, email, name, admin?} of the session, once known
  }

  /** The session token the client holds (never the browser's HttpOnly cookie). */
  get token() { return this.#token; }
  set token(value) { this.#token = value || null; }

  /** Sends of the outbox not answered yet. */
  get pendingSends() { return this.#outbox.length + (this.#draining ? 1 : 0); }

  url(path) { return this.baseUrl + path; }

  /**
   * One request to chatd: resolves to {data, status, headers}, or rejects
   * with a ChatError. body (an object) goes as JSON.
   */
  async request(method, path, { body, headers, signal } = {}) {
    const init = { method, headers: this.#headers(headers), credentials: this.credentials, cache: 'no-store', signal };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res, text;
    try {
      res = await this.#fetch(this.url(path), init);
      text = await res.text();
    } catch (e) {
      throw new ChatError(0, 'offline', 'The server could not be reached.', { cause: e });
    }
    this.#keepSession(res.headers);
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
    if (!res.ok) throw this.#errorOf(res, data);
    return { data, status: res.status, headers: res.headers };
  }

  /** The same request, repeated after no answer, 502/503/504 and 429 (retryDelayMs). */
  async requestWithRetries(method, path, options = {}, context = {}) {
    return this.#repeated(() => this.request(method, path, options), () => ({ ...context, method, path }));
  }

  // attempt() again after each error retryDelayMs allows, within the retry
  // budget; every repeat is announced as a `retry` event (info() and more).
  async #repeated(attempt, info) {
    const start = Date.now();
    for (let n = 0; ; n++) {
      try {
        return await attempt();
      } catch (e) {
        const delay = retryDelayMs(e, n);
        if (delay < 0 || Date.now() - start + delay > this.retryBudgetMs) throw e;
        this.emit('retry', { ...info(), attempt: n + 1, error: e, delayMs: delay });
        await sleep(delay);
      }
    }
  }

  #headers(extra) {
    const headers = Object.assign({ Accept: 'application/json' }, extra);
    if (this.#token) headers.Authorization = 'Bearer ' + this.#token;
    return headers;
  }

  // Browsers never show Set-Cookie to scripts; Node does: keep the token.
  #keepSession(headers) {
    const token = sessionFromSetCookie(headers.get('set-cookie'));
    if (token !== undefined) this.#token = token || null;
  }

  #errorOf(res, data) {
    const error = data && typeof data === 'object' && data.error ? data.error : {};
    const code = error.code || (res.status >= 500 ? 'unavailable' : 'http_' + res.status);
    return this.#refusal(new ChatError(res.status, code, error.message || res.statusText || code, {
      retryAfter: retryAfterOf(res.headers), requestId: res.headers.get('X-Request-Id'),
    }));
  }

  // A refusal by the server, over HTTP or a WebSocket: a 401 ends the session.
  #refusal(e) {
    if (e.status === 401 && e.code === 'unauthorized') {
      this.#token = null;
      this.user = null;
      this.emit('unauthorized', e);
    }
    return e;
  }

  // ---- users and sessions ----

  /** POST /user/: registers and logs in. */
  async register({ email, password, name }) {
    const { data } = await this.request('POST', '/user/', { body: name ? { email, password, name } : { email, password } });
    return this.#setUser(data);
  }

  /** PUT /user/: logs in with e-mail and password. */
  async login({ email, password }) {
    const { data } = await this.request('PUT', '/user/', { body: { email, password } });
    return this.#setUser(data);
  }

  /** POST /user/token: exchanges the application's signed token (JWT) for a session. */
  async loginWithToken(jwt) {
    const { data } = await this.request('POST', '/user/token', { body: { token: jwt } });
    return this.#setUser(data);
  }

  /** GET /user/: the user behind the session. */
  async me() {
    const { data } = await this.requestWithRetries('GET', '/user/');
    return this.#setUser(data);
  }

  /** DELETE /user/session: logs out (a session already gone counts as logged out). */
  async logout() {
    try {
      await this.request('DELETE', '/user/session');
    } catch (e) {
      if (!(e instanceof ChatError) || e.status !== 401) throw e;
    }
    this.#token = null;
    this.user = null;
  }

  #setUser(data) {
    const { authKey, ...user } = data || {};
    this.user = user;
    return user;
  }

  // ---- rooms, members, direct conversations ----

  /** GET /room/: one page of rooms; next is the `after` of the next page, or null. */
  async rooms({ after, limit } = {}) {
    const q = new URLSearchParams();
    if (after) q.set('after', after);
    if (limit) q.set('limit', String(limit));
    const query = String(q);
    const { data, headers } = await this.requestWithRetries('GET', '/room/' + (query ? '?' + query : ''));
    return { rooms: data, next: headers.get('X-Next-After') };
  }

  /** Every room, page after page. */
  async allRooms() {
    const all = [];
    let after = null;
    do {
      const page = await this.rooms({ after });
      all.push(...page.rooms);
      after = page.next;
    } while (after);
    return all;
  }

  /** POST /room/: creates a room (kind 'public' or 'private'), or answers the one that exists. */
  async createRoom(name, { kind = 'public' } = {}) {
    const { data, status } = await this.request('POST', '/room/', { body: { name, kind } });
    return { ...data, created: status === 201 };
  }

  /** POST /dm/: the direct conversation with a user (an e-mail address or a user id). */
  async directRoom(user) {
    const { data } = await this.request('POST', '/dm/', { body: userRef(user) });
    return data;
  }

  /** GET /room/<name>/member: the members and their roles. */
  async members(room) {
    const { data } = await this.requestWithRetries('GET', roomBase(room) + '/member');
    return data;
  }

  /** POST /room/<name>/member {}: joins a public room. */
  async join(room) {
    return (await this.request('POST', roomBase(room) + '/member', { body: {} })).data;
  }

  /** DELETE /room/<name>/member: leaves the room. */
  async leave(room) {
    return (await this.request('DELETE', roomBase(room) + '/member')).data;
  }

  /** POST /room/<name>/member: adds a user (e-mail or id) as a member. */
  async invite(room, user) {
    return (await this.request('POST', roomBase(room) + '/member', { body: userRef(user) })).data;
  }

  /** PUT /room/<name>/member: gives a member a role (owner, moderator, member) or bans ('banned'). */
  async setRole(room, user, role) {
    return (await this.request('PUT', roomBase(room) + '/member', { body: { ...userRef(user), role } })).data;
  }

  /** Bans a user from the room. */
  async ban(room, user) {
    return this.setRole(room, user, 'banned');
  }

  /** DELETE /room/<name>/member?userId=: removes a member, or lifts a ban. */
  async removeMember(room, userId) {
    return (await this.request('DELETE', roomBase(room) + '/member?userId=' + encodeURIComponent(userId))).data;
  }

  /** Lifts a user's ban (the same request as removeMember). */
  async unban(room, userId) {
    return this.removeMember(room, userId);
  }

  // ---- messages ----

  /**
   * Sends text to room, after every send made before it. Resolves with the
   * stored message (`replayed`: true when an earlier attempt had stored it).
   * The clientMsgId is made once and used by every attempt; replyTo (an id
   * of the room) makes the message a reply.
   */
  send(room, text, { clientMsgId, replyTo } = {}) {
    const item = { room, text, replyTo, clientMsgId: clientMsgId || newClientMsgId() };
    const done = new Promise((resolve, reject) => Object.assign(item, { resolve, reject }));
    this.#outbox.push(item);
    this.#drain();
    return done;
  }

  async #drain() {
    if (this.#draining) return;
    this.#draining = true;
    try {
      while (this.#outbox.length) {
        const item = this.#outbox.shift();
        try {
          item.resolve(await this.#sendNow(item));
        } catch (e) {
          item.reject(e);
          if (e.code === 'unauthorized') this.#failOutbox(e); // nothing more can be sent
        }
      }
    } finally {
      this.#draining = false;
    }
  }

  #failOutbox(e) {
    for (const item of this.#outbox.splice(0)) item.reject(e);
  }

  // One send, repeated by the retry rules; `via` of a retry says whether
  // the attempt that failed went over a WebSocket ('ws') or by POST ('http').
  async #sendNow(item) {
    const { room, clientMsgId } = item;
    return this.#repeated(() => this.#sendOnce(item),
      () => ({ room, clientMsgId, method: 'POST', path: roomBase(room) + '/message/', via: item.via }));
  }

  // Over a ready WebSocket when there is one; by POST without one, when
  // the socket closed before the answer or the answer was late (the same
  // clientMsgId: a send the server stored is answered as a replay), and
  // for what a socket cannot carry (a room name chatd would refuse, a text
  // over its message limit), whose refusal POST words best.
  async #sendOnce(item) {
    const { room, text, clientMsgId, replyTo } = item;
    const frame = replyTo ? { type: 'send', room, text, clientMsgId, replyTo } : { type: 'send', room, text, clientMsgId };
    const ws = this.sendTransport !== 'post' && SocketSends.fits(frame) ? this.#sockets.open() : null;
    if (ws) {
      item.via = 'ws';
      try {
        return await this.#sendOverSocket(ws, frame);
      } catch (e) {
        if (!(e instanceof SocketLost)) throw e;
      }
    }
    item.via = 'http';
    return this.#post(item);
  }

  async #sendOverSocket(ws, frame) {
    const m = await this.#sockets.send(ws, frame, this.sendTimeoutMs);
    if (m.type === 'ack' && m.message && typeof m.message === 'object') return { ...m.message, replayed: m.replayed === true };
    const code = typeof m.code === 'string' ? m.code : 'internal';
    const retryAfter = Number.isInteger(m.retryAfter) && m.retryAfter > 0 ? m.retryAfter : 0;
    throw this.#refusal(new ChatError(statusOfCode(code), code, m.message || code, { retryAfter }));
  }

  async #post({ room, text, clientMsgId, replyTo }) {
    const body = replyTo ? { text, clientMsgId, replyTo } : { text, clientMsgId };
    const { data, headers } = await this.request('POST', roomBase(room) + '/message/', { body });
    return { ...data, replayed: headers.get('Idempotent-Replayed') === 'true' };
  }

  /** PATCH /room/<name>/message/?id=: edits one's own message. */
  async editMessage(room, id, text) {
    return (await this.request('PATCH', roomBase(room) + '/message/?id=' + encodeURIComponent(id), { body: { text } })).data;
  }

  /** DELETE /room/<name>/message/?id=: deletes one's own message, or a moderator removes one. */
  async deleteMessage(room, id) {
    return (await this.request('DELETE', roomBase(room) + '/message/?id=' + encodeURIComponent(id))).data;
  }

  /**
   * GET /room/<name>/message/: a page of history, oldest first. With before:
   * the page before that id (nextBefore: the id for the page before it, null
   * at the beginning); with after: the messages after it (nextAfter). gap:
   * the oldest id kept when messages after `after` are gone, else null.
   */
  async history(room, { before, after, limit, wait } = {}) {
    const q = new URLSearchParams();
    if (before) q.set('before', before);
    if (after) q.set('after', after);
    if (limit) q.set('limit', String(limit));
    if (wait) q.set('wait', String(wait));
    const query = String(q);
    const { data, headers } = await this.requestWithRetries('GET', roomBase(room) + '/message/' + (query ? '?' + query : ''));
    return {
      messages: data,
      nextBefore: headers.get('X-Next-Before'),
      nextAfter: headers.get('X-Next-After'),
      gap: headers.get('X-History-Gap'),
    };
  }

  /** The newest page of a room (limit messages, 50 by default). */
  async newest(room, limit = 50) {
    return this.history(room, { before: NEWEST, limit });
  }

  // ---- live ----

  /**
   * A live stream of rooms. options: rooms (names), positions (room → the
   * last id the caller has; a room without one starts live), transport
   * ('auto', 'ws', 'sse'), signals (true: the rooms' typing and presence
   * signals too), user (true: the session user's read markers too). It
   * connects at once; attach listeners right away.
   */
  stream({ rooms = [], positions = {}, transport = this.transport, ...options } = {}) {
    return new ChatStream(this, { rooms, positions, transport, ...options });
  }

  /** For ChatStream: the URL and init of an event stream request. */
  streamRequest(path, signal) {
    return [this.url(path), {
      headers: this.#headers({ Accept: 'text/event-stream' }), credentials: this.credentials,
      cache: 'no-store', signal,
    }];
  }

  /** For ChatStream: fetch as given (the event stream reads the body itself). */
  rawFetch(url, init) {
    return this.#fetch(url, init);
  }

  /** For ChatStream: where it lends its ready WebSocket to the sends. */
  get socketSends() {
    return this.#sockets;
  }

  /** For ChatStream: the ChatError of a failed answer. */
  async errorOf(res) {
    let data = null;
    try { data = JSON.parse(await res.text()); } catch (e) { data = null; }
    return this.#errorOf(res, data);
  }
}

// {email} for an address, else {userId}.
function userRef(user) {
  if (user && typeof user === 'object') return user;
  return String(user).includes('@') ? { email: String(user) } : { userId: String(user) };
}

// ---- the stream ----

/**
 * One live connection for a set of rooms. Events: message, edited, removed,
 * member (room events about members), gap, marker, typing, presence, any
 * other kind by its own name (a reaction: `reaction`), `event` for every one
 * of them ({kind, room, data}) and `entry` for every stored entry of a room
 * ({kind, room, data}: not gap, marker, typing, presence); state ('connecting',
 * 'live', 'reconnecting', 'closed'), live ({transport}: every room is
 * followed from here on), unsubscribed ({room, reason}), error.
 */
export class ChatStream extends Emitter {
  #client;
  #rooms;
  #positions;
  #revoked = new Set();     // rooms whose revoking event this stream delivered
  #transport;               // 'ws' or 'sse' (chosen, or fallen back to)
  #socket = null;           // the open WebSocket
  #abort = null;            // the AbortController of the event stream's fetch
  #pending = new Set();     // WebSocket: rooms subscribed, not yet confirmed
  #userPending = false;     // WebSocket: subscribe_user sent, not yet confirmed
  #socketWorked = false;    // a WebSocket of this stream got ready once
  #failures = 0;            // connections that failed in a row (the backoff)
  #timer = 0;
  #generation = 0;          // bumps on every (re)connect: late callbacks of old ones are dropped
  #closed = false;

  constructor(client, { rooms, positions, transport, signals = false, user = false, idleTimeoutMs = 45000, reconnectMaxMs = 10000 }) {
    super();
    this.#client = client;
    this.signals = Boolean(signals);
    this.user = Boolean(user);
    this.#rooms = [...new Set(rooms)];
    if (this.#rooms.length > STREAM_ROOMS_MAX) throw new RangeError('at most ' + STREAM_ROOMS_MAX + ' rooms per stream');
    this.#positions = new Map(positions instanceof Map ? positions : Object.entries(positions || {}));
    this.idleTimeoutMs = idleTimeoutMs;
    this.reconnectMaxMs = reconnectMaxMs;
    this.state = 'connecting';
    this.#transport = this.#chooseTransport(transport);
    setTimeout(() => this.#connect(), 0);
  }

  /** 'ws' or 'sse': the transport in use. */
  get transport() { return this.#transport; }
  /** The rooms followed. */
  get rooms() { return [...this.#rooms]; }
  /** room → the last id delivered (or where the room started): pass it as `positions` to resume. */
  get positions() { return Object.fromEntries(this.#positions); }

  /** Follows one more room, from after when given. */
  add(room, after) {
    if (this.#rooms.includes(room) || this.#closed) return;
    if (this.#rooms.length >= STREAM_ROOMS_MAX) throw new RangeError('at most ' + STREAM_ROOMS_MAX + ' rooms per stream');
    this.#rooms.push(room);
    if (after) this.#positions.set(room, after);
    const ready = this.state === 'live' || this.#pending.size > 0; // the socket got its `ready`
    if (this.#transport === 'ws' && this.#socket && this.#socket.readyState === 1 && ready) {
      this.#subscribe(this.#socket, room);
    } else {
      this.#reconnectSoon(0);
    }
  }

  /** Stops following a room. */
  remove(room) {
    if (!this.#rooms.includes(room)) return;
    this.#rooms = this.#rooms.filter((r) => r !== room);
    this.#pending.delete(room);
    if (this.#transport === 'ws' && this.#socket && this.#socket.readyState === 1) {
      this.#socket.send(JSON.stringify({ type: 'unsubscribe', room }));
    } else {
      this.#reconnectSoon(0);
    }
  }

  /** Ends the stream for good. */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#disconnect();
    this.#setState('closed');
  }

  #chooseTransport(wanted) {
    const canSocket = typeof this.#client.WebSocket === 'function';
    if (wanted === 'sse' || !canSocket) return 'sse';
    if (wanted === 'ws') return 'ws';
    // auto: a WebSocket needs a session (the token, or the browser's cookie
    // for a user the client knows); streams of public rooms need none
    return this.#client.token || this.#client.user ? 'ws' : 'sse';
  }

  #setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
  }

  #disconnect() {
    clearTimeout(this.#timer);
    this.#generation++;
    this.#pending.clear();
    this.#userPending = false;
    if (this.#socket) {
      const ws = this.#socket;
      this.#socket = null;
      this.#client.socketSends.takeBack(ws);
      try { ws.close(1000); } catch (e) { /* closing already */ }
    }
    if (this.#abort) {
      this.#abort.abort();
      this.#abort = null;
    }
  }

  #connect() {
    if (this.#closed) return;
    this.#disconnect();
    if (!this.#rooms.length) return; // nothing to follow until add()
    if (this.#transport === 'ws') this.#openSocket(this.#generation);
    else this.#openEventStream(this.#generation);
  }

  #reconnectSoon(delayMs) {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#connect(), delayMs);
  }

  // After a connection failed or ended: again, with a growing delay.
  #retry(immediately = false) {
    if (this.#closed) return;
    this.#disconnect();
    this.#setState('reconnecting');
    const delay = immediately ? 0 : jitter(Math.min(250 * 2 ** this.#failures, this.reconnectMaxMs));
    this.#failures++;
    this.#reconnectSoon(delay);
  }

  #becameLive() {
    this.#failures = 0;
    this.#setState('live');
    this.emit('live', { transport: this.#transport, positions: this.positions });
  }

  // ---- delivery, the same for both transports ----

  // Delivers one stored entry of room once: an id not above the room's
  // position was delivered already (a replay overlapping what came live).
  // Entries of a room no longer followed (an unsubscribe on its way) are not.
  #deliver(room, data) {
    if (typeof room === 'string' && !this.#rooms.includes(room)) return; // removed meanwhile
    if (typeof room === 'string' && typeof data.id === 'string') {
      const known = this.#positions.get(room);
      if (known !== undefined && compareIds(data.id, known) <= 0) return;
      this.#positions.set(room, data.id);
    }
    const kind = kindOf(data);
    if (REVOKING_EVENTS.has(data.event) && this.#client.user &&
        (data.target === this.#client.user.id || (data.event === 'left' && data.userId === this.#client.user.id))) {
      this.#revoked.add(room);
    }
    this.emit('entry', { kind, room, data });
    this.#emitKind(kind, room, data);
  }

  #emitKind(kind, room, data) {
    this.emit(kind, data);
    this.emit('event', { kind, room, data });
  }

  #dropRoom(room, reason) {
    this.#rooms = this.#rooms.filter((r) => r !== room);
    this.#pending.delete(room);
    this.emit('unsubscribed', { room, reason });
  }

  // ---- WebSocket ----

  #openSocket(generation) {
    // baseUrl and its path, or (''; a browser) the page's own address
    const url = new URL(this.#client.url('/ws'), globalThis.location ? globalThis.location.href : undefined);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    let ws;
    try {
      ws = new this.#client.WebSocket(String(url));
    } catch (e) {
      this.emit('error', new ChatError(0, 'offline', 'The WebSocket could not be opened.', { cause: e }));
      this.#fallBackOrRetry(false);
      return;
    }
    this.#socket = ws;
    let ready = false;
    ws.onopen = () => {
      const token = this.#client.token;
      if (generation === this.#generation && token) ws.send(JSON.stringify({ type: 'auth', authKey: token }));
    };
    ws.onmessage = (event) => {
      if (generation !== this.#generation) return;
      let m;
      try { m = JSON.parse(typeof event.data === 'string' ? event.data : String(event.data)); } catch (e) { return; }
      if (!m || typeof m !== 'object') return;
      if (m.type === 'ready') {
        ready = this.#socketWorked = true;
        this.#client.socketSends.lend(ws);
        this.#rooms.forEach((room) => this.#subscribe(ws, room));
        if (this.user) {
          this.#userPending = true;
          ws.send(JSON.stringify({ type: 'subscribe_user' }));
        }
        this.#liveWhenConfirmed();
      } else {
        this.#onSocketMessage(ws, m);
      }
    };
    ws.onerror = () => {}; // a close follows
    ws.onclose = (event) => {
      this.#client.socketSends.takeBack(ws);
      if (generation !== this.#generation) return;
      this.#socket = null;
      this.#onSocketClose(event.code, ready);
    };
  }

  #subscribe(ws, room) {
    this.#pending.add(room);
    const subscribe = { type: 'subscribe', room };
    const after = this.#positions.get(room);
    if (after) subscribe.after = after;
    if (this.signals) subscribe.signals = true;
    ws.send(JSON.stringify(subscribe));
  }

  #onSocketMessage(ws, m) {
    switch (m.type) {
      case 'subscribed':
        if (typeof m.room === 'string' && m.id && !this.#positions.has(m.room)) this.#positions.set(m.room, m.id);
        this.#confirmed(m.room);
        break;
      case 'message': {
        const { type, ...data } = m;
        this.#deliver(m.room, data);
        break;
      }
      case 'gap':
        this.#emitKind('gap', m.room, { room: m.room, first: m.first, trimmed: m.trimmed });
        break;
      case 'unsubscribed':
        if (m.reason && this.#rooms.includes(m.room)) this.#dropRoom(m.room, m.reason);
        break;
      case 'error': // a send's goes to the client's outbox
        if (!this.#client.socketSends.answer(ws, m)) this.#onSocketError(m);
        break;
      case 'user_subscribed': // the markers follow
        this.#userPending = false;
        this.#liveWhenConfirmed();
        break;
      case 'ack': // the answer to a send of the client's outbox
        this.#client.socketSends.answer(ws, m);
        break;
      default: // marker, typing, presence, and kinds this client does not know: as they came
        this.#emitKind(String(m.type), m.room, m);
    }
  }

  #confirmed(room) {
    if (this.#pending.delete(room)) this.#liveWhenConfirmed();
  }

  #liveWhenConfirmed() {
    if (this.#pending.size === 0 && !this.#userPending) this.#becameLive();
  }

  #onSocketError(m) {
    const e = new ChatError(0, m.code || 'internal', m.message || 'error', { retryAfter: m.retryAfter || 0 });
    e.room = m.room;
    if (m.room && this.#pending.has(m.room) && m.code === 'not_found') {
      this.#dropRoom(m.room, 'not_found');
      this.#liveWhenConfirmed();
    }
    this.emit('error', e);
  }

  #onSocketClose(code, ready) {
    if (this.#closed) return;
    if (code === 4001) { // no valid session: logging in again is the caller's
      this.emit('error', new ChatError(401, 'unauthorized', 'The session has ended.'));
      this.close();
      return;
    }
    if (!ready && !this.#socketWorked) {
      this.#fallBackOrRetry(true);
      return;
    }
    this.#retry(code === 1001); // 1001: the server drains; another one takes us at once
  }

  // The first WebSocket never got ready (no WebSocket on the way, no
  // session): the event stream from then on.
  #fallBackOrRetry(fallBack) {
    if (fallBack && !this.#socketWorked) {
      this.#transport = 'sse';
      this.emit('fallback', { from: 'ws', to: 'sse' });
      this.#reconnectSoon(0);
      return;
    }
    this.#retry();
  }

  // ---- Server-Sent Events over fetch ----

  #streamPath() {
    const after = this.#rooms.filter((r) => this.#positions.has(r)).map((r) => r + ':' + this.#positions.get(r)).join(',');
    return '/stream?rooms=' + encodeURIComponent(this.#rooms.join(',')) + (after ? '&after=' + encodeURIComponent(after) : '') +
      (this.signals ? '&signals=1' : '') + (this.user ? '&user=1' : '');
  }

  async #openEventStream(generation) {
    const abort = new AbortController();
    this.#abort = abort;
    let res;
    try {
      res = await this.#client.rawFetch(...this.#client.streamRequest(this.#streamPath(), abort.signal));
    } catch (e) {
      if (generation === this.#generation) this.#retry();
      return;
    }
    if (generation !== this.#generation) { // a newer connection took over meanwhile
      abort.abort();
      return;
    }
    if (!res.ok) {
      await this.#onStreamRefused(res, generation);
      return;
    }
    try {
      await this.#readEvents(res.body, generation, abort);
    } catch (e) {
      // the connection broke (a chatd killed, a network failure), or we aborted it
    }
    if (generation === this.#generation) this.#retry();
  }

  async #onStreamRefused(res, generation) {
    const e = await this.#client.errorOf(res);
    if (generation !== this.#generation) return;
    if (res.status === 404) { // a room gone for this user: find it and go on without it
      await this.#dropMissingRooms();
      if (generation === this.#generation) this.#retry(true);
      return;
    }
    this.emit('error', e);
    if (res.status === 400) this.close(); // the request itself is wrong: no retry helps
    else this.#retry();
  }

  async #dropMissingRooms() {
    for (const room of [...this.#rooms]) {
      try {
        await this.#client.request('GET', roomBase(room) + '/message/?after=' + NEWEST + '&limit=1');
      } catch (e) {
        if (e.status === 404) this.#dropRoom(room, this.#revoked.has(room) ? 'revoked' : 'not_found');
      }
    }
  }

  async #readEvents(body, generation, abort) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser((event) => this.#onStreamEvent(event, generation));
    let idle = 0;
    const watch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => abort.abort(), this.idleTimeoutMs); // no byte, not even a ping
    };
    try {
      for (watch(); ;) {
        const { value, done } = await reader.read();
        if (done || generation !== this.#generation) break;
        watch();
        parser.push(decoder.decode(value, { stream: true }));
      }
    } finally {
      clearTimeout(idle);
    }
  }

  #onStreamEvent({ event, data, id }, generation) {
    if (generation !== this.#generation) return;
    const position = id && id.includes(':') ? parsePosition(id) : null;
    if (data === null) { // a position alone: every room knows where it starts
      if (position) position.forEach((v, r) => { if (!this.#positions.has(r) || compareIds(v, this.#positions.get(r)) > 0) this.#positions.set(r, v); });
      if (this.state !== 'live') this.#becameLive();
      return;
    }
    let parsed;
    try { parsed = JSON.parse(data); } catch (e) { parsed = data; }
    if (event === 'message' && parsed && typeof parsed === 'object') this.#deliver(parsed.room, parsed);
    else if (event === 'gap' && parsed && typeof parsed === 'object') this.#emitKind('gap', parsed.room, parsed);
    else this.#emitKind(event, parsed && parsed.room, parsed); // a kind this client does not know
  }
}

/**
 * The text/event-stream format, fed in pieces: calls onEvent({event, data,
 * id}) per event (data null for an event with an id and no data lines).
 */
export class SseParser {
  #buffer = '';
  #data = [];
  #event = '';
  #id = null;

  constructor(onEvent) {
    this.onEvent = onEvent;
  }

  push(text) {
    this.#buffer += text;
    let nl;
    while ((nl = this.#buffer.indexOf('\n')) >= 0) {
      let line = this.#buffer.slice(0, nl);
      this.#buffer = this.#buffer.slice(nl + 1);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      this.#line(line);
    }
  }

  #line(line) {
    if (line === '') {
      this.#dispatch();
      return;
    }
    if (line.startsWith(':')) return; // a comment: connected, ping
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.#data.push(value);
    else if (field === 'event') this.#event = value;
    else if (field === 'id') this.#id = value;
  }

  #dispatch() {
    const event = { event: this.#event || 'message', data: this.#data.length ? this.#data.join('\n') : null, id: this.#id };
    const any = this.#data.length || this.#id !== null;
    this.#data = [];
    this.#event = '';
    this.#id = null;
    if (any) this.onEvent(event);
  }
}
