// Types of clusterchat.js, the JavaScript client of chatd (docs/API.md,
// "JavaScript client"). Written by hand beside the module; the sdk test suite
// type-checks a usage file against it with tsc --noEmit.

/** A "before" above every id: the newest page of a room. */
export const NEWEST: string;
/** chatd's limit of rooms per stream. */
export const STREAM_ROOMS_MAX: number;

/** A message as chatd stores and answers it. */
export interface Message {
  /** `<ms>-<seq>`, growing in the room's order; the position to resume from. */
  id: string;
  userId: string;
  name: string;
  text: string;
  /** ms since the epoch, when chatd received it */
  timestamp: number;
  /** the time of the latest edit (history pages), when it was edited */
  edited?: number;
  /** the room (stream events carry it) */
  room?: string;
  /** on a reply: the message it answers, its author's name and the start of its text */
  replyTo?: { id: string; name: string; text: string };
}

/** The answer to a send: the stored message. */
export interface SentMessage extends Message {
  /** true when an earlier attempt had stored it already (Idempotent-Replayed) */
  replayed: boolean;
}

/** The room event kinds about members. */
export type MemberEventName = 'joined' | 'left' | 'invited' | 'removed' | 'banned' | 'unbanned' | 'role';

/** A room event: a stored entry with `event`, `target` and `role`. */
export interface RoomEvent extends Message {
  event: string;
  /** the user it is about; for message_removed and edited, the message id */
  target: string;
  /** the target's role after it ('' for none) */
  role: string;
}

export interface MemberEvent extends RoomEvent {
  event: MemberEventName;
}

/** An edit: `text` is the new text of the message `target`. */
export interface EditedEvent extends RoomEvent {
  event: 'edited';
}

/** A removal: the message `target` is gone. */
export interface RemovedEvent extends RoomEvent {
  event: 'message_removed';
}

/** The gap signal: messages before `first` are no longer kept. */
export interface GapEvent {
  room: string;
  /** the oldest id kept, null when none */
  first: string | null;
  trimmed: boolean;
}

export type Role = 'owner' | 'moderator' | 'member';

export interface User {
  id: string;
  email: string;
  name: string;
  admin?: boolean;
  /** token sessions: when the session ends, ms since the epoch */
  expires?: number;
}

export interface Room {
  name: string;
  kind?: 'public' | 'private' | 'direct';
  role?: Role | '';
}

export interface Member {
  userId: string;
  role: Role | 'banned';
  name: string;
}

export interface MembershipChange {
  room: string;
  userId: string;
  role: Role | 'banned' | '';
  eventId?: string;
}

export interface DirectRoom {
  name: string;
  kind: 'direct';
  /** the other user's id */
  with: string;
}

export interface HistoryPage {
  messages: Array<Message | RoomEvent>;
  /** `before` of the page before this one; null at the beginning */
  nextBefore: string | null;
  /** the last id of the page (ordinary replies with messages) */
  nextAfter: string | null;
  /** the oldest id kept, when messages after `after` are gone */
  gap: string | null;
}

/** A user: an e-mail address (has an @) or a user id, or the object itself. */
export type UserRef = string | { email: string } | { userId: string };

/** An error of the API. */
export class ChatError extends Error {
  constructor(status: number, code: string, message: string,
    options?: { retryAfter?: number; requestId?: string | null; cause?: unknown });
  readonly name: 'ChatError';
  /** HTTP status; 0 when the server could not be reached (or a stream's WebSocket error); a
   *  send refused over a WebSocket has the status its POST would have had (statusOfCode) */
  status: number;
  /** chatd's error code (docs/API.md, "Errors"); "offline" without an answer */
  code: string;
  /** seconds the server asked to wait (Retry-After), 0 when none */
  retryAfter: number;
  /** X-Request-Id of the answer */
  requestId: string | null;
  /** the room of a WebSocket error, when it names one */
  room?: string;
}

export interface RetryInfo {
  method: string;
  path: string;
  /** the attempt about to be made (2 for the first repeat) minus one */
  attempt: number;
  error: ChatError;
  delayMs: number;
  room?: string;
  clientMsgId?: string;
  /** sends: whether the attempt that failed went over a WebSocket or by POST */
  via?: 'ws' | 'http';
}

export type Transport = 'auto' | 'ws' | 'sse';

/** How sends go: 'auto' over a stream's ready WebSocket when there is one, else POST; 'post' always POST. */
export type SendTransport = 'auto' | 'post';

/** A constructor like the browser's WebSocket (npm's `ws` in Node). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: any) => void) | null;
  onmessage: ((event: { data: any }) => void) | null;
  onclose: ((event: { code: number }) => void) | null;
  onerror: ((event: any) => void) | null;
  send(data: string): void;
  close(code?: number): void;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface ClientOptions {
  /** chatd or its load balancer, e.g. "https://chat.example"; '' in a browser: the page's server */
  baseUrl?: string;
  fetch?: typeof fetch;
  /** the WebSocket constructor; the browser's by default, npm's `ws` in Node */
  WebSocket?: WebSocketConstructor | null;
  /** a session token to start with (Node; browsers keep the HttpOnly cookie) */
  token?: string | null;
  credentials?: RequestCredentials;
  /** how long a send or a read is repeated after no answer, 429, 502, 503 or 504 (30000) */
  retryBudgetMs?: number;
  /** the default transport of streams ('auto') */
  transport?: Transport;
  /** how sends go ('auto') */
  sendTransport?: SendTransport;
  /** how long a send over a WebSocket waits for its ack before it goes by POST (10000) */
  sendTimeoutMs?: number;
}

export interface RequestResult<T = any> {
  data: T;
  status: number;
  headers: Headers;
}

export interface StreamOptions {
  rooms?: string[];
  /** room → the last id the caller has: the room resumes after it */
  positions?: Record<string, string> | Map<string, string>;
  transport?: Transport;
  /** the rooms' typing and presence signals too (false) */
  signals?: boolean;
  /** the session user's read markers too, from any device (false; needs a session) */
  user?: boolean;
  /** the event stream reconnects after this long without a byte (45000) */
  idleTimeoutMs?: number;
  /** the longest wait between reconnects (10000) */
  reconnectMaxMs?: number;
}

type Unsubscribe = () => void;

export interface ClientEvents {
  retry: RetryInfo;
  unauthorized: ChatError;
}

export class ChatClient {
  constructor(options?: ClientOptions);
  baseUrl: string;
  credentials: RequestCredentials;
  retryBudgetMs: number;
  transport: Transport;
  sendTransport: SendTransport;
  sendTimeoutMs: number;
  WebSocket: WebSocketConstructor | null;
  /** the session's user, once known */
  user: User | null;
  /** the session token the client holds (Node), null in a browser */
  token: string | null;
  /** sends not answered yet */
  readonly pendingSends: number;

  on<K extends keyof ClientEvents>(kind: K, fn: (data: ClientEvents[K]) => void): Unsubscribe;
  off<K extends keyof ClientEvents>(kind: K, fn: (data: ClientEvents[K]) => void): void;
  once<K extends keyof ClientEvents>(kind: K, test?: (data: ClientEvents[K]) => boolean): Promise<ClientEvents[K]>;

  url(path: string): string;
  request<T = any>(method: string, path: string, options?: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal }): Promise<RequestResult<T>>;
  requestWithRetries<T = any>(method: string, path: string, options?: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal }, context?: Record<string, unknown>): Promise<RequestResult<T>>;

  register(account: { email: string; password: string; name?: string }): Promise<User>;
  login(credentials: { email: string; password: string }): Promise<User>;
  loginWithToken(jwt: string): Promise<User>;
  me(): Promise<User>;
  logout(): Promise<void>;

  rooms(page?: { after?: string; limit?: number }): Promise<{ rooms: Room[]; next: string | null }>;
  allRooms(): Promise<Room[]>;
  createRoom(name: string, options?: { kind?: 'public' | 'private' }): Promise<Room & { created: boolean }>;
  directRoom(user: UserRef): Promise<DirectRoom>;
  members(room: string): Promise<Member[]>;
  join(room: string): Promise<MembershipChange>;
  leave(room: string): Promise<MembershipChange>;
  invite(room: string, user: UserRef): Promise<MembershipChange>;
  setRole(room: string, user: UserRef, role: Role | 'banned'): Promise<MembershipChange>;
  ban(room: string, user: UserRef): Promise<MembershipChange>;
  removeMember(room: string, userId: string): Promise<MembershipChange>;
  unban(room: string, userId: string): Promise<MembershipChange>;

  send(room: string, text: string, options?: {
    clientMsgId?: string;
    /** the id of the message of the same room this one answers */
    replyTo?: string;
  }): Promise<SentMessage>;
  editMessage(room: string, id: string, text: string): Promise<{ room: string; id: string; eventId: string; edited: number }>;
  deleteMessage(room: string, id: string): Promise<{ room: string; id: string; eventId: string }>;
  history(room: string, query?: { before?: string; after?: string; limit?: number; wait?: number }): Promise<HistoryPage>;
  newest(room: string, limit?: number): Promise<HistoryPage>;

  stream(options?: StreamOptions): ChatStream;
}

export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'closed';

/** What a stream hands out, by kind; any other kind comes as it was sent. */
/** The session user's read marker of a room moved (the `user` option). */
export interface MarkerEvent {
  room: string;
  /** the id read up to */
  id: string;
}

/** Someone types in a room (the `signals` option). */
export interface TypingEvent {
  room: string;
  userId: string;
  name: string;
  /** show it this long (ms) unless another renews it */
  expiresIn: number;
  /** the user said they stopped */
  stopped?: boolean;
}

/** Who came and went in a room (the `signals` option); coalesced per second. */
export interface PresenceEvent {
  room: string;
  /** users online in the room now */
  count: number;
  joined?: { userId: string; name: string }[];
  left?: { userId: string }[];
  /** instead of the lists, when many changed: read GET /room/<name>/presence */
  changes?: number;
}

/** A reaction added or taken back: a stored entry with `event: 'reaction'`. */
export interface ReactionEvent extends Message {
  event: 'reaction';
  /** the id of the message reacted to */
  target: string;
  emoji: string;
  action: 'added' | 'removed';
}

export interface StreamEvents {
  message: Message;
  edited: EditedEvent;
  removed: RemovedEvent;
  member: MemberEvent;
  reaction: ReactionEvent;
  gap: GapEvent;
  marker: MarkerEvent;
  typing: TypingEvent;
  presence: PresenceEvent;
  /** every event above, and those of kinds this client does not know */
  event: { kind: string; room: string | undefined; data: any };
  /** every stored entry of a room, whatever its kind (not gap, marker, typing, presence) */
  entry: { kind: string; room: string; data: Message };
  state: StreamState;
  /** every room is followed from here on */
  live: { transport: 'ws' | 'sse'; positions: Record<string, string> };
  /** a room is no longer followed: 'revoked' (left, removed, banned), 'not_found' */
  unsubscribed: { room: string; reason: string };
  /** the WebSocket never got ready: the event stream instead */
  fallback: { from: 'ws'; to: 'sse' };
  error: ChatError;
}

export class ChatStream {
  readonly state: StreamState;
  /** 'ws' or 'sse' */
  readonly transport: 'ws' | 'sse';
  readonly rooms: string[];
  /** room → the last id delivered: pass it as `positions` to resume later */
  readonly positions: Record<string, string>;
  idleTimeoutMs: number;
  reconnectMaxMs: number;

  on<K extends keyof StreamEvents>(kind: K, fn: (data: StreamEvents[K]) => void): Unsubscribe;
  /** kinds this client does not type (reactions, read markers, typing, presence, …) */
  on(kind: string, fn: (data: any) => void): Unsubscribe;
  off(kind: string, fn: (data: any) => void): void;
  once<K extends keyof StreamEvents>(kind: K, test?: (data: StreamEvents[K]) => boolean): Promise<StreamEvents[K]>;
  once(kind: string, test?: (data: any) => boolean): Promise<any>;

  add(room: string, after?: string): void;
  remove(room: string): void;
  close(): void;
}

/** The text/event-stream format, fed in pieces. */
export class SseParser {
  constructor(onEvent: (event: { event: string; data: string | null; id: string | null }) => void);
  push(text: string): void;
}

export function compareIds(a: string, b: string): number;
export function parsePosition(text: string | null | undefined): Map<string, string>;
export function kindOf(entry: { event?: unknown }): string;
export function newClientMsgId(): string;
export function sessionFromSetCookie(header: string | null | undefined): string | undefined;
/** The HTTP status of chatd's error code (400 for one this client does not know). */
export function statusOfCode(code: string): number;
export function retryDelayMs(error: unknown, attempt: number, options?: { baseMs?: number; maxMs?: number }): number;
