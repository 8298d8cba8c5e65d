/*
 * clusterchat's browser client. It talks to chatd's REST API (docs/API.md)
 * through the JavaScript client module, clusterchat.js: its requests, its
 * ordered outbox of sends (over the stream's WebSocket while this tab holds
 * one that is ready, else by POST), and its live stream, which follows the
 * rooms the tabs show or list over a WebSocket on /ws, or over the event
 * stream (/stream?rooms=a,b) where a first WebSocket closes before it is
 * ready (no WebSocket through some proxy, no session), with the rooms'
 * typing and presence signals and the user's read markers. One tab holds
 * the stream (the leader, chosen with a Web Lock) and hands its events to
 * the other tabs over a BroadcastChannel, so that any number of tabs uses
 * one connection. The session is chatd's HttpOnly cookie, so a reload (or
 * another tab) finds it with GET /user/.
 *
 * Messages are kept in id order and rendered once per id, whichever way they
 * arrive (the first page, scroll-back, the stream, the answer to our own
 * send). The stream resumes every room from its position (one id per room)
 * after every reconnect; when the rooms change or another tab takes over, a
 * new stream starts from the position every tab has seen.
 *
 * Rooms are public, private (marked with a badge) or direct (a conversation
 * of two, "@ name"), with the caller's role in each (GET /room/). The room's
 * header invites (owners and moderators) and leaves; a message's menu starts
 * the direct conversation with its author and, for owners and moderators,
 * removes the message or removes or bans its author. The header's member
 * list shows each member's name and role; there an owner promotes and
 * demotes, and moderators and owners remove members and lift bans. A
 * public room not in one's list is joined from its header or by name. A
 * stream's "unsubscribed" (taken out of a private room) takes the room
 * off the list with a notice; a close with 4001 (the session ended) sends
 * the page to the log-in form. The page shows the
 * outcome from the room events; one about this user refreshes the list, and
 * so does the window getting the focus back (an invitation names the user
 * in a room whose stream they do not follow yet).
 *
 * Each room of the list shows the caller's unread count (GET /room/; "99+"
 * from 100 on), counted on as others' messages arrive; the open room is
 * marked read (PUT /room/<name>/read) once its newest message has been on
 * screen in a focused tab for a moment, and a marker moved in another tab
 * or on another device (the stream's marker events) reads the list again.
 *
 * While its user types, the page says so to the room (POST .../typing, at
 * most every 3 s), and it shows "X is typing…" under the messages for 6 s
 * after each such signal of another user; the room's header shows who is
 * online (GET .../presence, then the stream's presence events). The lobby
 * has neither.
 *
 * Text from the server is only ever set with textContent, never as HTML.
 */
import {
  ChatClient, ChatError, NEWEST, STREAM_ROOMS_MAX, compareIds, newClientMsgId,
} from './clusterchat.js';

(() => {
  const PAGE = 50;                     // messages per history page
  const TEXT_MAX_BYTES = 4096;         // chatd's limit for a message
  const ROOM_NAME = /^[a-z0-9_-]{1,64}$/;

  const WORDS = {
    invalid_credentials: 'Wrong e-mail address or password.',
    email_taken: 'This e-mail address is already registered. Log in instead?',
    invalid_email: 'Please enter a valid e-mail address.',
    invalid_password: 'The password must be 8 to 1024 bytes long.',
    invalid_name: 'The name must be 1 to 64 characters, without control characters.',
    invalid_text: 'A message must be 1 to 4096 bytes and not only spaces.',
    too_long: 'The message is too long: at most 4096 bytes.',
    invalid_room: 'A room name is 1 to 64 characters of a–z, 0–9, _ and -.',
    body_too_large: 'That is too long.',
    unauthorized: 'Your session has ended. Please log in again.',
    unavailable: 'The server is unavailable right now. Please try again.',
    too_many_streams: 'The server is busy. Retrying…',
    cross_origin: 'The server refused a request from another site.',
    offline: 'You are offline: the server cannot be reached.',
    not_found: 'There is no such room, or you are not one of its members.',
    forbidden: 'Only the room\u2019s owners and moderators may do that.',
    banned: 'You are banned from this room.',
    last_owner: 'You are the last owner of this room: make another member owner before you leave.',
    user_banned: 'That user is banned from this room: lift the ban first.',
    unknown_user: 'Nobody is registered with that e-mail address.',
    self_action: 'You cannot do that to yourself.',
    membership_changed: 'The room\u2019s members changed just now. Please try again.',
    not_member: 'That user is not a member of this room.',
    not_a_message: 'Only messages can be removed.',
    account_locked: 'A site administrator has locked this account.',
    room_taken: 'That room name is taken. Please choose another.',
    invalid_kind: 'A room is public or private.',
    invalid_user_id: 'That user is unknown.',
    too_many_rooms: 'You have created as many rooms as you may.',
    rate_limited: 'Too many requests: please wait a moment.',
  };

  const $ = (id) => document.getElementById(id);
  const el = {
    status: $('status'), whoami: $('whoami'), meName: $('me-name'), logout: $('logout'),
    authView: $('auth-view'), authForm: $('auth-form'), authTitle: $('auth-title'),
    authError: $('auth-error'), email: $('email'), password: $('password'),
    nameRow: $('name-row'), name: $('name'), authSubmit: $('auth-submit'),
    authSwitch: $('auth-switch'), authSwitchText: $('auth-switch-text'),
    chatView: $('chat-view'), roomList: $('room-list'), roomForm: $('room-form'),
    roomName: $('room-name'), roomError: $('room-error'), roomTitle: $('room-title'),
    scroller: $('scroller'), older: $('older'), historyState: $('history-state'),
    messages: $('messages'), sendForm: $('send-form'), text: $('text'), send: $('send'),
    sendError: $('send-error'), roomKind: $('room-kind'), inviteForm: $('invite-form'),
    replyBar: $('reply-bar'), replyQuote: $('reply-quote'), replyCancel: $('reply-cancel'),
    inviteEmail: $('invite-email'), leaveRoom: $('leave-room'), roomNote: $('room-note'),
    roomActionError: $('room-action-error'), online: $('online'), typing: $('typing'),
    joinForm: $('join-form'), joinName: $('join-name'), joinError: $('join-error'),
    joinRoom: $('join-room'), showMembers: $('show-members'), memberPanel: $('member-panel'),
    memberList: $('member-list'),
  };

  const state = {
    me: null,            // {id, email, name} of the session, null when logged out
    registering: false,  // the auth form registers instead of logging in
    rooms: [],           // names shown in the room list
    roomsNext: null,     // the last name of the list's last full page: more may follow
    unread: new Set(),   // rooms with new messages since they were last open
    roomInfo: new Map(), // room → {kind: 'public' | 'private' | 'direct', role: '' or the caller's}
    dmNames: loadDmNames(), // direct room → the other user's name, as last seen
    replyTo: null,       // {view, id} of the message the composer answers, or null
    counts: new Map(),   // room → the caller's unread count (GET /room/, then counted on)
    markers: new Map(),  // room → the caller's read marker, as last known
  };

  // The open room: replaced as a whole when the room changes, so that late
  // answers for the previous room (checked with `view !== current`) are dropped.
  let current = null;

  // ---- the API ----

  const client = new ChatClient(); // this page's own server, with the session cookie
  client.on('unauthorized', () => sessionLost());

  function words(code, fallback) {
    return WORDS[code] || fallback || 'Something went wrong (' + code + ').';
  }

  // One request; resolves to {data, headers} or throws a ChatError whose
  // message is the page's words for its code. A 401 "unauthorized" (the
  // session is gone) also sends the page to the log-in form.
  async function api(method, path, body, headers) {
    try {
      return await client.request(method, path, { body, headers });
    } catch (e) {
      if (e instanceof ChatError) e.message = words(e.code, e.message);
      throw e;
    }
  }

  const roomPath = (room) => '/room/' + encodeURIComponent(room) + '/message/';
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // ---- small view helpers ----

  function showError(node, message) {
    node.textContent = message || '';
    node.hidden = !message;
  }

  function setStatus(text) {
    el.status.textContent = text || '';
    el.status.hidden = !text;
  }

  const timeOnly = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
  const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

  function formatTime(date) {
    const today = new Date();
    return date.toDateString() === today.toDateString() ? timeOnly.format(date) : dateTime.format(date);
  }

  // ---- log in, register, log out ----

  function setAuthMode(registering) {
    state.registering = registering;
    el.authTitle.textContent = registering ? 'Register' : 'Log in';
    el.authSubmit.textContent = registering ? 'Register' : 'Log in';
    el.authSwitchText.textContent = registering ? 'Have an account?' : 'No account yet?';
    el.authSwitch.textContent = registering ? 'Log in' : 'Register';
    el.nameRow.hidden = !registering;
    el.password.autocomplete = registering ? 'new-password' : 'current-password';
    showError(el.authError, '');
  }

  function showAuth(message) {
    closeRoom();
    live.follow(null, null); // a logged-out tab follows no room
    state.me = null;
    el.chatView.hidden = true;
    el.whoami.hidden = true;
    el.authView.hidden = false;
    document.title = 'clusterchat';
    setStatus('');
    showError(el.authError, message || '');
    el.password.value = '';
    el.email.focus();
  }

  function showChat(me) {
    state.me = me;
    el.meName.textContent = me.name;
    el.authView.hidden = true;
    el.whoami.hidden = false;
    el.chatView.hidden = false;
    loadRooms();
    openRoom(roomFromHash());
    el.text.focus();
  }

  function sessionLost() {
    if (state.me) showAuth(WORDS.unauthorized);
  }

  async function submitAuth(event) {
    event.preventDefault();
    const email = el.email.value.trim();
    const password = el.password.value;
    if (!email) {
      showError(el.authError, WORDS.invalid_email);
      el.email.focus();
      return;
    }
    if (new TextEncoder().encode(password).length < 8) {
      showError(el.authError, WORDS.invalid_password);
      el.password.focus();
      return;
    }
    const body = { email, password };
    if (state.registering && el.name.value.trim()) body.name = el.name.value.trim();
    el.authSubmit.disabled = true;
    try {
      const { data } = await api(state.registering ? 'POST' : 'PUT', '/user/', body);
      el.password.value = '';
      tabs.post('login');
      showChat({ id: data.id, email: data.email, name: data.name, admin: Boolean(data.admin) });
    } catch (e) {
      showError(el.authError, e.message);
    } finally {
      el.authSubmit.disabled = false;
    }
  }

  async function logout() {
    try {
      await api('DELETE', '/user/session');
    } catch (e) {
      // 401: the session was gone already; offline: the cookie stays, but
      // the page forgets the user. Either way the form comes back.
    }
    tabs.post('logout');
    showAuth('');
  }

  // Asks who is logged in (after a reload, or when another tab logged in or out).
  async function checkSession() {
    for (let attempt = 0; ; attempt++) {
      try {
        const { data } = await api('GET', '/user/');
        if (!state.me || state.me.id !== data.id) showChat(data);
        return;
      } catch (e) {
        if (e.status === 401) {
          if (state.me) showAuth(WORDS.unauthorized);
          else if (el.authView.hidden) showAuth('');
          return;
        }
        setStatus(e.message);
        await sleep(Math.min(1000 * 2 ** attempt, 10000));
      }
    }
  }

  // Tells the other tabs of this browser about log-ins and log-outs: they
  // share the cookie, so they ask GET /user/ again.
  const tabs = (() => {
    const channel = 'BroadcastChannel' in window ? new BroadcastChannel('clusterchat') : null;
    if (channel) channel.onmessage = () => checkSession();
    return { post: (what) => channel && channel.postMessage(what) };
  })();

  // ---- rooms ----

  function roomFromHash() {
    const name = decodeURIComponent(location.hash.slice(1));
    return ROOM_NAME.test(name) ? name : 'lobby';
  }

  // The room list comes in pages (lobby first, then by name); the server
  // names the last room of a full page in X-Next-After.
  async function loadRoomPage(after) {
    const { data, headers } = await api('GET', '/room/' + (after ? '?after=' + encodeURIComponent(after) : ''));
    const names = data.map((r) => r.name);
    if (!after) state.roomInfo = new Map();
    data.forEach((r) => state.roomInfo.set(r.name, { kind: r.kind || 'public', role: r.role || '' }));
    learnCounts(data, !after);
    if (!after) state.rooms = names;
    else names.forEach((n) => { if (!state.rooms.includes(n)) state.rooms.push(n); });
    state.roomsNext = headers.get('X-Next-After');
  }

  // The first page, then further pages while the open room (a link may name
  // one) would come later in name order.
  async function loadRooms() {
    try {
      await loadRoomPage(null);
      const wanted = current && current.room;
      while (wanted && !state.rooms.includes(wanted) && state.roomsNext && state.roomsNext < wanted) {
        await loadRoomPage(state.roomsNext);
      }
    } catch (e) {
      if (!state.rooms.length) state.rooms = ['lobby'];
    }
    renderRooms();
    if (current && current.cursor !== null) live.follow(current.room, current.cursor);
  }

  async function loadMoreRooms() {
    try {
      await loadRoomPage(state.roomsNext);
    } catch (e) {
      showError(el.roomError, e.message);
    }
    renderRooms();
    if (current && current.cursor !== null) live.follow(current.room, current.cursor);
  }

  function renderRooms() {
    const names = state.rooms.slice();
    if (current && !names.includes(current.room)) names.push(current.room);
    el.roomList.replaceChildren(...names.map((name) => {
      const li = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      roomLabel(button, name);
      button.dataset.room = name;
      const open = Boolean(current && current.room === name); // on screen: never shown unread
      if (open) button.setAttribute('aria-current', 'true');
      if (!open && (state.unread.has(name) || state.counts.get(name) > 0)) button.classList.add('unread');
      if (!open && state.counts.get(name) > 0) {
        const badge = document.createElement('span');
        badge.className = 'unread-count';
        badge.textContent = unreadLabel(state.counts.get(name));
        button.append(badge);
      }
      button.addEventListener('click', () => { location.hash = name; });
      li.append(button);
      return li;
    }));
    renderRoomHeader();
    if (state.roomsNext) {
      const li = document.createElement('li');
      const more = document.createElement('button');
      more.type = 'button';
      more.className = 'room-more';
      more.textContent = 'more rooms…';
      more.addEventListener('click', loadMoreRooms);
      li.append(more);
      el.roomList.append(li);
    }
  }

  async function createRoom(event) {
    event.preventDefault();
    const name = el.roomName.value.trim();
    if (!ROOM_NAME.test(name)) {
      showError(el.roomError, WORDS.invalid_room);
      el.roomName.focus();
      return;
    }
    try {
      const kind = el.roomKind.value === 'private' ? 'private' : 'public';
      const { data } = await api('POST', '/room/', { name, kind });
      state.roomInfo.set(name, { kind: data.kind || kind, role: data.role || '' });
      showError(el.roomError, '');
      el.roomName.value = '';
      el.roomKind.value = 'public';
      if (!state.rooms.includes(name)) state.rooms.push(name);
      location.hash = name;
      loadRooms();
    } catch (e) {
      showError(el.roomError, e.message);
    }
  }

  // ---- members, direct conversations, moderation ----

  // The other user's name of each direct room, as last seen in it (GET /room/
  // lists a direct room by its name only), kept in this browser.
  function loadDmNames() {
    try {
      const names = JSON.parse(localStorage.getItem('clusterchat-dm-names') || '{}');
      return names && typeof names === 'object' ? names : {};
    } catch (e) {
      return {};
    }
  }

  function learnDmName(room, m) {
    const info = state.roomInfo.get(room);
    if (!info || info.kind !== 'direct' || !state.me || m.event || m.userId === state.me.id) return;
    if (typeof m.name === 'string' && rememberDmName(room, m.name)) renderRooms();
  }

  function rememberDmName(room, name) {
    if (state.dmNames[room] === name) return false;
    state.dmNames[room] = name;
    try { localStorage.setItem('clusterchat-dm-names', JSON.stringify(state.dmNames)); } catch (e) { /* full */ }
    return true;
  }

  const roomKindOf = (room) => (state.roomInfo.get(room) || { kind: 'public' }).kind;
  const roomRoleOf = (room) => (state.roomInfo.get(room) || { role: '' }).role;
  const memberPath = (room) => '/room/' + encodeURIComponent(room) + '/member';

  // Whether the caller may invite, remove messages and remove or ban members:
  // a room's owners and moderators, and site administrators in every room.
  function canModerate(room) {
    const role = roomRoleOf(room);
    const admin = Boolean(state.me && state.me.admin);
    return roomKindOf(room) !== 'direct' && (admin || role === 'owner' || role === 'moderator');
  }

  // "# name", "# name private" (a badge) for a private room, "@ other user"
  // for a direct one.
  function roomLabel(node, room) {
    const kind = roomKindOf(room);
    node.dataset.kind = kind;
    if (kind === 'direct') {
      node.textContent = '@ ' + (state.dmNames[room] || 'direct conversation');
      return;
    }
    node.textContent = '# ' + room;
    if (kind === 'private') {
      const mark = document.createElement('span');
      mark.className = 'mark';
      mark.textContent = 'private';
      node.append(' ', mark);
    }
  }

  // The open room's title and what the caller may do there.
  function renderRoomHeader() {
    if (!current) return;
    const room = current.room;
    roomLabel(el.roomTitle, room);
    el.inviteForm.hidden = !canModerate(room);
    el.leaveRoom.hidden = !roomRoleOf(room);
    el.joinRoom.hidden = !canJoin(room);
    el.showMembers.hidden = room === 'lobby';
    el.messages.classList.toggle('moderating', canModerate(room));
  }

  function showNote(text) {
    el.roomNote.textContent = text || '';
    el.roomNote.hidden = !text;
  }

  // Runs one action of the open room's header or of a message's menu: its
  // note when it worked, the server's error in words when not.
  async function roomAction(action) {
    closeMenus();
    showNote('');
    showError(el.roomActionError, '');
    try {
      showNote(await action());
    } catch (e) {
      showError(el.roomActionError, e.message);
    }
  }

  // An invited user is a member at once: the room is in their list when
  // their page next asks for it (on focus, or when a room event names them).
  function invite(event) {
    event.preventDefault();
    const room = current && current.room;
    const email = el.inviteEmail.value.trim();
    if (!room) return;
    if (!email) {
      showError(el.roomActionError, WORDS.invalid_email);
      el.inviteEmail.focus();
      return;
    }
    roomAction(async () => {
      await api('POST', memberPath(room), { email });
      el.inviteEmail.value = '';
      return email + ' is now a member of this room.';
    });
  }

  function leaveRoom() {
    const room = current && current.room;
    if (!room) return;
    roomAction(async () => {
      await api('DELETE', memberPath(room));
      state.rooms = state.rooms.filter((name) => name !== room);
      state.roomInfo.delete(room);
      location.hash = 'lobby';
      loadRooms();
      return 'You left #' + room + '.';
    });
  }

  // The room list again, soon (several reasons at once make one request).
  let refreshTimer = 0;
  function refreshRoomsSoon() {
    if (!state.me) return;
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => { if (state.me) loadRooms(); }, 100);
  }

  // A room event about the caller (a role given or taken, removed, banned):
  // the list and the caller's roles change with it.
  function noticeEvent(m) {
    if (!state.me || !m || typeof m.event !== 'string') return;
    if (m.target === state.me.id || ((m.event === 'joined' || m.event === 'left') && m.userId === state.me.id)) {
      refreshRoomsSoon();
    }
  }

  // ---- the member list, joining, losing access ----

  const ROLE_RANK = { owner: 3, moderator: 2, member: 1, banned: 0 };
  const ROLE_WORDS = { owner: 'an owner', moderator: 'a moderator', member: 'a member' };

  // A public room the caller is not a member of: joining puts it in their list.
  function canJoin(room) {
    return Boolean(state.me) && room !== 'lobby' && roomKindOf(room) === 'public' && !roomRoleOf(room);
  }

  // What the caller may do to one member of room: an owner (or a site
  // administrator) gives the other roles; moderators and owners remove
  // members below them and lift bans (the server checks it all again).
  function memberActions(room, member) {
    if (!state.me || member.userId === state.me.id || roomKindOf(room) === 'direct') return [];
    const mine = state.me.admin ? 'owner' : roomRoleOf(room);
    const name = member.name || 'this user';
    if (member.role === 'banned') {
      return canModerate(room) ? [['Lift ban', 'unban', () => unbanMember(room, member)]] : [];
    }
    const actions = [];
    if (mine === 'owner') {
      for (const role of ['owner', 'moderator', 'member']) {
        if (role === member.role) continue;
        const label = ROLE_RANK[role] > ROLE_RANK[member.role] ? 'Promote to ' + role : 'Make ' + role;
        actions.push([label, 'role-' + role, () => setRole(room, member, role)]);
      }
    }
    if (canModerate(room) && member.role !== 'owner' && ROLE_RANK[mine] > ROLE_RANK[member.role]) {
      actions.push(['Remove', 'remove', () => removeMember(room, { userId: member.userId, name })]);
    }
    return actions;
  }

  async function setRole(room, member, role) {
    await api('PUT', memberPath(room), { userId: member.userId, role });
    return (member.name || 'The user') + ' is now ' + ROLE_WORDS[role] + ' of this room.';
  }

  async function unbanMember(room, member) {
    await api('DELETE', memberPath(room) + '?userId=' + encodeURIComponent(member.userId));
    return 'The ban on ' + (member.name || 'the user') + ' was lifted.';
  }

  function renderMember(room, member) {
    const li = document.createElement('li');
    li.dataset.userId = member.userId;
    li.dataset.role = member.role;
    const name = document.createElement('span');
    name.className = 'member-name';
    name.textContent = member.name || 'unnamed member';
    const role = document.createElement('span');
    role.className = 'member-role';
    role.textContent = member.role + (state.me && member.userId === state.me.id ? ' (you)' : '');
    li.append(name, role);
    const actions = memberActions(room, member);
    if (actions.length) {
      const box = document.createElement('span');
      box.className = 'member-actions';
      for (const [label, action, run] of actions) {
        const button = document.createElement('button');
        button.type = 'button';
        button.dataset.action = action;
        button.textContent = label;
        button.setAttribute('aria-label', label + ': ' + name.textContent);
        button.addEventListener('click', () => roomAction(async () => {
          const note = await run();
          if (current) loadMembers(current); // the room event also refreshes it
          return note;
        }));
        box.append(button);
      }
      li.append(box);
    }
    return li;
  }

  // The open room's members, owners first, then by name (the API gives them
  // all at once; banned users only to moderators and owners).
  async function loadMembers(view) {
    try {
      const { data } = await api('GET', memberPath(view.room));
      if (view !== current || el.memberPanel.hidden) return;
      const members = (Array.isArray(data) ? data : []).filter((m) => m && typeof m.userId === 'string')
        .sort((a, b) => (ROLE_RANK[b.role] || 0) - (ROLE_RANK[a.role] || 0) ||
          String(a.name).localeCompare(String(b.name)));
      el.memberList.replaceChildren(...members.map((m) => renderMember(view.room, m)));
    } catch (e) {
      if (view === current) showError(el.roomActionError, e.message);
    }
  }

  function showMembers(open) {
    el.memberPanel.hidden = !open;
    el.showMembers.setAttribute('aria-expanded', String(open));
    if (!open) el.memberList.replaceChildren();
    else if (current) loadMembers(current);
  }

  // A room event of the open room that changes its members: the open list follows.
  let membersTimer = 0;
  function noticeMemberEvent(room, m) {
    if (!current || room !== current.room || el.memberPanel.hidden || typeof m.event !== 'string') return;
    if (m.event === 'edited' || m.event === 'message_removed') return;
    const view = current;
    clearTimeout(membersTimer);
    membersTimer = setTimeout(() => { if (view === current) loadMembers(view); }, 100);
  }

  function joinRoom() {
    const room = current && current.room;
    if (!room) return;
    roomAction(async () => {
      const { data } = await api('POST', memberPath(room), {});
      state.roomInfo.set(room, { kind: 'public', role: (data && data.role) || 'member' });
      if (!state.rooms.includes(room)) state.rooms.push(room);
      renderRooms();
      loadRooms();
      return 'You joined #' + room + '.';
    });
  }

  // Joins a public room by its name (one that the list's pages have not
  // shown yet, say) and opens it; the lobby just opens.
  async function joinByName(event) {
    event.preventDefault();
    const room = el.joinName.value.trim();
    if (!ROOM_NAME.test(room)) {
      showError(el.joinError, WORDS.invalid_room);
      el.joinName.focus();
      return;
    }
    try {
      if (room !== 'lobby') {
        const { data } = await api('POST', memberPath(room), {});
        state.roomInfo.set(room, { kind: 'public', role: (data && data.role) || 'member' });
        if (!state.rooms.includes(room)) state.rooms.push(room);
      }
      showError(el.joinError, '');
      el.joinName.value = '';
      location.hash = room;
      loadRooms();
    } catch (e) {
      showError(el.joinError, e.code === 'not_found' ? 'There is no public room of that name.' : e.message);
    }
  }

  // The server ended this user's following of room (a WebSocket's
  // "unsubscribed" with a reason: they left it, or were removed or banned):
  // it goes from the list, and an open one gives way to the lobby with a
  // notice.
  function accessEnded(room) {
    if (typeof room !== 'string' || room === 'lobby') return;
    state.rooms = state.rooms.filter((name) => name !== room);
    state.roomInfo.delete(room);
    state.unread.delete(room);
    if (current && current.room === room) {
      location.hash = 'lobby';
      openRoom('lobby');
      showNote('You no longer have access to #' + room + '.');
    }
    renderRooms();
    refreshRoomsSoon();
  }

  // Whether the session still holds (a stream ended, maybe with it): a
  // 401 sends the page to the log-in form (api), anything else changes nothing.
  async function checkSessionQuietly() {
    if (!state.me) return;
    try { await api('GET', '/user/'); } catch (e) { /* api() handles 401 */ }
  }

  // ---- read markers and unread counts ----

  const UNREAD_CAP = 100;     // chatd's cap (CHAT_UNREAD_CAP): 100 means "100 or more"
  const READ_DELAY_MS = 500;  // a message on screen this long in a focused tab is read
  let readTimer = 0;

  const unreadLabel = (n) => (n >= UNREAD_CAP ? '99+' : String(n));

  // The counts and markers of a page of the room list (a first page starts afresh).
  function learnCounts(list, first) {
    if (first) {
      state.counts = new Map();
      state.markers = new Map();
    }
    for (const r of list) {
      if (typeof r.unread === 'number') state.counts.set(r.name, r.unread);
      if (typeof r.marker === 'string') state.markers.set(r.name, r.marker);
    }
  }

  // Whether what the open room shows is being seen: a visible, focused tab
  // scrolled to the newest message.
  const seen = () => !document.hidden && document.hasFocus() && nearBottom();

  function markSeenSoon() {
    clearTimeout(readTimer);
    readTimer = setTimeout(markSeen, READ_DELAY_MS);
  }

  // Moves the open room's marker to its newest message, when seen and newer.
  async function markSeen() {
    const view = current;
    if (!state.me || !view || !view.newest || !seen()) return;
    const known = state.markers.get(view.room);
    if (known && compareIds(view.newest, known) <= 0) {
      if (state.counts.get(view.room)) { state.counts.set(view.room, 0); renderRooms(); }
      return;
    }
    try {
      const { data } = await api('PUT', '/room/' + encodeURIComponent(view.room) + '/read', { id: view.newest });
      state.markers.set(view.room, data.id);
      state.counts.set(view.room, 0);
      state.unread.delete(view.room);
      renderRooms();
    } catch (e) { /* the next message, focus or scroll tries again */ }
  }

  // A message of room arrived live: one more unread, unless it is the
  // caller's, an event, already read, or in the room being seen.
  function countUnread(room, m) {
    if (!state.me || !m || m.event || m.userId === state.me.id || !state.counts.has(room)) return;
    if (current && current.room === room && seen()) return;
    const known = state.markers.get(room);
    if (known && compareIds(m.id, known) <= 0) return;
    state.counts.set(room, Math.min(UNREAD_CAP, state.counts.get(room) + 1));
    renderRooms();
  }

  // The caller's marker of room moved to id in another tab or on another
  // device: the list (and its counts) again.
  function markerMoved(room, id) {
    const known = state.markers.get(room);
    if (typeof id !== 'string' || (known && compareIds(id, known) <= 0)) return;
    state.markers.set(room, id);
    refreshRoomsSoon();
  }

  // ---- a message's menu ----

  function addMenuButton(li, m, view) {
    if (typeof m.userId !== 'string' || !m.userId) return;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'menu-button';
    button.textContent = '⋯';
    button.setAttribute('aria-label', 'Actions for the message of ' + String(m.name));
    button.setAttribute('aria-expanded', 'false');
    button.addEventListener('click', () => toggleMenu(li, m, view, button));
    (li.querySelector('.meta') || li).append(button);
  }

  function closeMenus() {
    el.messages.querySelectorAll('.message-menu').forEach((menu) => menu.remove());
    el.messages.querySelectorAll('.menu-button[aria-expanded="true"]')
      .forEach((button) => button.setAttribute('aria-expanded', 'false'));
  }

  // Items: write to the author; one's own: edit or delete it; for
  // moderators, remove the message, and remove or ban its author.
  function menuItems(m, view) {
    const name = String(m.name);
    const own = state.me && m.userId === state.me.id;
    const items = [];
    if (!own) items.push(['Message ' + name, 'dm', () => startDm(m)]);
    if (own) items.push(['Edit message', 'edit-message', () => editMessage(view.room, m)]);
    if (own && !canModerate(view.room)) {
      items.push(['Delete message', 'delete-message', () => removeMessage(view.room, m)]);
    }
    if (canModerate(view.room)) {
      items.push(['Remove message', 'remove-message', () => removeMessage(view.room, m)]);
      if (!own) {
        items.push(['Remove ' + name + ' from the room', 'remove-member', () => removeMember(view.room, m)]);
        items.push(['Ban ' + name, 'ban', () => banMember(view.room, m)]);
      }
    }
    return items;
  }

  function toggleMenu(li, m, view, button) {
    const open = li.querySelector('.message-menu');
    closeMenus();
    if (open || view !== current) return;
    const items = menuItems(m, view);
    if (!items.length) return;
    const menu = document.createElement('div');
    menu.className = 'message-menu';
    menu.setAttribute('role', 'group');
    menu.setAttribute('aria-label', 'Actions for the message of ' + String(m.name));
    for (const [label, action, run] of items) {
      const item = document.createElement('button');
      item.type = 'button';
      item.dataset.action = action;
      item.textContent = label;
      item.addEventListener('click', () => roomAction(run));
      menu.append(item);
    }
    li.append(menu);
    button.setAttribute('aria-expanded', 'true');
    menu.firstElementChild.focus();
  }

  // The direct conversation with the message's author (found or created).
  async function startDm(m) {
    const { data } = await api('POST', '/dm/', { userId: m.userId });
    rememberDmName(data.name, String(m.name));
    state.roomInfo.set(data.name, { kind: 'direct', role: 'member' });
    if (!state.rooms.includes(data.name)) state.rooms.push(data.name);
    location.hash = data.name;
    loadRooms();
    return '';
  }

  // The page updates from the room event each of these records.
  async function removeMessage(room, m) {
    await api('DELETE', roomPath(room) + '?id=' + encodeURIComponent(m.id));
    return 'The message was removed.';
  }

  // Puts a form with the message's text in place of the text; saving
  // sends it, and the page updates from the "edited" event.
  function editMessage(room, m) {
    const li = el.messages.querySelector('li.message[data-id="' + CSS.escape(m.id) + '"]');
    const text = li && li.querySelector('.text');
    if (!text || li.querySelector('.edit-form')) return '';
    const form = document.createElement('form');
    form.className = 'edit-form';
    const input = document.createElement('input');
    input.className = 'edit-text';
    input.maxLength = 4096;
    input.value = text.textContent;
    input.setAttribute('aria-label', 'The new text of your message');
    const save = document.createElement('button');
    save.type = 'submit';
    save.textContent = 'Save';
    const cancel = document.createElement('button');
    cancel.type = 'button';
    cancel.textContent = 'Cancel';
    const close = () => { form.remove(); text.hidden = false; };
    cancel.addEventListener('click', close);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      if (!input.value.trim()) return;
      const body = { text: input.value };
      close();
      roomAction(async () => {
        await api('PATCH', roomPath(room) + '?id=' + encodeURIComponent(m.id), body);
        return 'The message was edited.';
      });
    });
    form.append(input, save, cancel);
    text.hidden = true;
    text.after(form);
    input.focus();
    return '';
  }

  async function removeMember(room, m) {
    await api('DELETE', memberPath(room) + '?userId=' + encodeURIComponent(m.userId));
    return String(m.name) + ' was removed from the room.';
  }

  async function banMember(room, m) {
    await api('PUT', memberPath(room), { userId: m.userId, role: 'banned' });
    return String(m.name) + ' is banned from the room.';
  }

  // ---- reactions and replies ----

  // The emoji the picker offers on every message.
  const PICKER = ['👍', '❤️', '😂', '🎉', '😮', '😢'];

  // The quote of a message: its author's name and its first characters.
  function quoteOf(name, text) {
    const chars = Array.from(String(text));
    return String(name) + ': ' + chars.slice(0, 100).join('') + (chars.length > 100 ? '…' : '');
  }

  // "Reply" on a message: the quote above the composer until sent.
  function addReplyButton(li, m, view) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'reply-button';
    button.textContent = 'Reply';
    button.setAttribute('aria-label', 'Reply to the message of ' + String(m.name));
    button.addEventListener('click', () => startReply(view, m));
    (li.querySelector('.reactions') || li).append(button);
  }

  function startReply(view, m) {
    state.replyTo = { view, id: m.id };
    el.replyQuote.textContent = 'Replying to ' + quoteOf(m.name, m.text);
    el.replyBar.hidden = false;
    el.text.focus();
    return '';
  }

  function cancelReply() {
    state.replyTo = null;
    el.replyBar.hidden = true;
  }

  // The reactions of a message: a button per emoji of the picker or
  // reacted with, its count and whether the reader is among them.
  function renderReactions(li, list) {
    const counts = new Map(PICKER.map((e) => [e, { count: 0, me: false }]));
    for (const r of Array.isArray(list) ? list : []) {
      if (r && typeof r.emoji === 'string') counts.set(r.emoji, { count: Number(r.count) || 0, me: !!r.me });
    }
    li.reactions = counts;
    drawReactions(li);
  }

  function drawReactions(li) {
    let bar = li.querySelector('.reactions');
    if (!bar) {
      bar = document.createElement('div');
      bar.className = 'reactions';
      bar.setAttribute('role', 'group');
      bar.setAttribute('aria-label', 'Reactions');
      li.append(bar);
    }
    const reply = bar.querySelector('.reply-button');
    bar.textContent = '';
    for (const [emoji, r] of li.reactions) {
      if (!r.count && !PICKER.includes(emoji)) continue;
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'reaction' + (r.count ? ' counted' : '');
      b.dataset.emoji = emoji;
      b.setAttribute('aria-pressed', String(r.me));
      b.textContent = r.count ? emoji + ' ' + r.count : emoji;
      b.addEventListener('click', () => toggleReaction(li, emoji));
      bar.append(b);
    }
    if (reply) bar.append(reply);
  }

  // Adds or takes back the reader's reaction; the page changes with the
  // "reaction" event the server sends back.
  function toggleReaction(li, emoji) {
    const view = current;
    const r = li.reactions && li.reactions.get(emoji);
    if (!view || !r) return;
    const path = roomPath(view.room).replace(/\/$/, '/reaction') + '?id=' + encodeURIComponent(li.dataset.id);
    roomAction(async () => {
      await api(r.me ? 'DELETE' : 'PUT', path, { emoji });
      return '';
    });
  }

  // A "reaction" event newer than the pages read: its message's count
  // changes (the pages already count the older ones).
  function applyReaction(view, m) {
    if (typeof m.target !== 'string' || typeof m.emoji !== 'string') return;
    if (view.reactionsAsOf && compareIds(m.id, view.reactionsAsOf) <= 0) return;
    const li = el.messages.querySelector('li.message[data-id="' + CSS.escape(m.target) + '"]');
    if (!li || !li.reactions) return;
    const r = li.reactions.get(m.emoji) || { count: 0, me: false };
    const added = m.action !== 'removed';
    r.count = Math.max(0, r.count + (added ? 1 : -1));
    if (state.me && m.userId === state.me.id) r.me = added;
    li.reactions.set(m.emoji, r);
    drawReactions(li);
  }

  // ---- the open room: history, stream, rendering ----

  function closeRoom() {
    if (!current) return;
    current.closed = true;
    current = null;
  }

  function openRoom(room) {
    if (current && current.room === room && !current.closed) return;
    closeRoom();
    const view = {
      room,
      ids: new Set(),      // ids rendered
      cursor: null,        // the last id the stream (or the first page) delivered
      oldest: null,        // the first id rendered, for scroll-back
      newest: null,        // the last id rendered, what a read marker moves to
      more: true,          // older messages may exist
      loadingOlder: false,
      closed: false,
    };
    current = view;
    state.unread.delete(room);
    showMembers(false);
    document.title = '#' + room + ' — clusterchat';
    showNote('');
    showError(el.roomActionError, '');
    el.messages.replaceChildren();
    el.older.hidden = true;
    showError(el.sendError, '');
    setHistoryState('Loading…');
    renderRooms(); // and the room's header
    resetEphemeral(view);
    loadNewest(view);
  }

  function setHistoryState(text) {
    el.historyState.textContent = text || '';
    el.historyState.hidden = !text;
  }

  // The newest page, then the stream from its last id (0 for an empty room,
  // so that nothing sent in between is missed).
  async function loadNewest(view) {
    for (let attempt = 0; !view.closed; attempt++) {
      try {
        const { data, headers } = await api('GET', roomPath(view.room) + '?before=' + NEWEST + '&limit=' + PAGE);
        if (view !== current) return;
        view.more = headers.has('X-Next-Before');
        // the page counts every reaction up to its newest entry: events up
        // to there are not counted again
        view.reactionsAsOf = data.length ? data[data.length - 1].id : '';
        insertMessages(view, data);
        view.cursor = data.length ? data[data.length - 1].id : '0';
        showHistoryControls(view);
        scrollToBottom();
        live.follow(view.room, view.cursor);
        fillScreen(view);
        markSeenSoon();
        return;
      } catch (e) {
        if (view !== current || e.status === 401) return;
        setHistoryState(e.message);
        await sleep(Math.min(1000 * 2 ** attempt, 10000));
      }
    }
  }

  function showHistoryControls(view) {
    el.older.hidden = !view.more;
    setHistoryState(view.more ? '' : (view.ids.size ? 'This is the beginning of #' + view.room + '.' : 'No messages in #' + view.room + ' yet.'));
  }

  async function loadOlder(view) {
    if (!view.more || view.loadingOlder || view !== current || view.cursor === null) return;
    view.loadingOlder = true;
    setHistoryState('Loading older messages…');
    try {
      const before = view.oldest || NEWEST;
      const { data, headers } = await api('GET', roomPath(view.room) + '?before=' + encodeURIComponent(before) + '&limit=' + PAGE);
      if (view !== current) return;
      view.more = headers.has('X-Next-Before') && data.length > 0;
      const height = el.scroller.scrollHeight;
      insertMessages(view, data);
      el.scroller.scrollTop += el.scroller.scrollHeight - height; // keep what the reader sees in place
      showHistoryControls(view);
      view.loadingOlder = false;
      fillScreen(view);
    } catch (e) {
      if (view === current) setHistoryState(e.message); // the next scroll (or the button) tries again
    } finally {
      view.loadingOlder = false;
    }
  }

  // Loads older pages until the messages overflow the scroller (so that
  // there is something to scroll), or the history's beginning.
  function fillScreen(view) {
    if (view === current && view.more && el.scroller.scrollHeight <= el.scroller.clientHeight) loadOlder(view);
  }

  function nearBottom() {
    return el.scroller.scrollHeight - el.scroller.scrollTop - el.scroller.clientHeight < 48;
  }

  function scrollToBottom() {
    el.scroller.scrollTop = el.scroller.scrollHeight;
  }

  // A room event (docs/API.md, "Room events") in words: name is who acted,
  // text the display name of the user it is about.
  function eventWords(m) {
    const actor = String(m.name), target = String(m.text);
    switch (m.event) {
      case 'joined': return actor + ' joined the room.';
      case 'left': return actor + ' left the room.';
      case 'invited': return actor + ' added ' + target + ' to the room.';
      case 'removed': return actor + ' removed ' + target + ' from the room.';
      case 'banned': return actor + ' banned ' + target + ' from the room.';
      case 'unbanned': return actor + ' lifted the ban on ' + target + '.';
      case 'role': return actor + ' made ' + target + ' ' + (m.role ? 'a ' + m.role : 'no member') + '.';
      case 'message_removed':
        return target === 'deleted by its author' ? actor + ' deleted a message.'
          : 'A message was removed by a moderator.';
      default: return actor + ': ' + target;
    }
  }

  function renderEvent(m) {
    const li = document.createElement('li');
    li.className = 'event';
    li.dataset.id = m.id;
    li.textContent = eventWords(m);
    return li;
  }

  function renderMessage(m) {
    if (typeof m.event === 'string') return renderEvent(m);
    const li = document.createElement('li');
    li.className = 'message';
    li.dataset.id = m.id;
    const own = state.me && m.userId === state.me.id;
    if (own) li.classList.add('own');
    const meta = document.createElement('div');
    meta.className = 'meta';
    const author = document.createElement('span');
    author.className = 'author';
    author.textContent = String(m.name);
    meta.append(author);
    if (own) {
      const you = document.createElement('span');
      you.className = 'you';
      you.textContent = '(you)';
      meta.append(you);
    }
    const date = new Date(Number(m.timestamp));
    if (!Number.isNaN(date.getTime())) {
      const time = document.createElement('time');
      time.dateTime = date.toISOString();
      time.title = dateTime.format(date);
      time.textContent = formatTime(date);
      meta.append(time);
    }
    if (m.edited) meta.append(editedMark(m.edited));
    const text = document.createElement('p');
    text.className = 'text';
    text.textContent = String(m.text);
    li.append(meta);
    if (m.replyTo && typeof m.replyTo === 'object') {
      const quote = document.createElement('blockquote');
      quote.className = 'quote';
      quote.dataset.replyTo = String(m.replyTo.id);
      quote.textContent = quoteOf(m.replyTo.name, m.replyTo.text);
      li.append(quote);
    }
    li.append(text);
    renderReactions(li, m.reactions);
    return li;
  }

  // "(edited)", with the edit's time as its title.
  function editedMark(when) {
    const mark = document.createElement('span');
    mark.className = 'edited';
    mark.textContent = '(edited)';
    const date = new Date(Number(when));
    if (!Number.isNaN(date.getTime())) mark.title = dateTime.format(date);
    return mark;
  }

  // An "edited" event: the message it names, if on the page, shows the new text.
  function applyEdit(m) {
    if (typeof m.target !== 'string') return;
    const li = el.messages.querySelector('li.message[data-id="' + CSS.escape(m.target) + '"]');
    if (!li) return;
    li.querySelector('.text').textContent = String(m.text);
    const meta = li.querySelector('.meta');
    const old = meta.querySelector('.edited');
    const mark = editedMark(m.timestamp);
    if (old) old.replaceWith(mark);
    else meta.insertBefore(mark, meta.querySelector('.menu-button'));
  }

  // Renders each message not rendered yet at its place in id order.
  function insertMessages(view, list) {
    if (view !== current || !Array.isArray(list)) return;
    const empty = view.ids.size === 0;
    for (const m of list) {
      if (!m || typeof m.id !== 'string' || view.ids.has(m.id)) continue;
      view.ids.add(m.id);
      if (!view.oldest || compareIds(m.id, view.oldest) < 0) view.oldest = m.id;
      if (!view.newest || compareIds(m.id, view.newest) > 0) view.newest = m.id;
      if (m.event === 'edited') { // applied to its message, not shown on its own
        applyEdit(m);
        continue;
      }
      if (m.event === 'reaction') { // the same
        applyReaction(view, m);
        continue;
      }
      let before = el.messages.lastElementChild;
      while (before && compareIds(before.dataset.id, m.id) > 0) before = before.previousElementSibling;
      const node = renderMessage(m);
      if (node.classList.contains('message')) {
        addMenuButton(node, m, view);
        addReplyButton(node, m, view);
      }
      el.messages.insertBefore(node, before ? before.nextElementSibling : el.messages.firstElementChild);
      learnDmName(view.room, m);
      if (m.event === 'message_removed') forgetMessage(view, m.target);
    }
    if (empty && view.ids.size && !view.more && view.cursor !== null) showHistoryControls(view); // no longer "No messages"
  }

  // A moderator removed message id: its text goes from the page too (the
  // event in its place says so); a later page or replay no longer has it.
  function forgetMessage(view, id) {
    if (typeof id !== 'string') return;
    for (const li of el.messages.querySelectorAll('li.message')) {
      if (li.dataset.id === id) li.remove();
    }
    view.ids.add(id);
  }

  // The server no longer keeps the messages of the open room just before
  // first (they were trimmed while this tab was away): says so there, once.
  function showGap(view, first) {
    if (view !== current || typeof first !== 'string' || el.messages.querySelector('.gap')) return;
    const li = document.createElement('li');
    li.className = 'gap';
    li.dataset.id = first; // messages from first on go after it, older ones before
    li.textContent = 'Older messages are no longer available.';
    let before = el.messages.lastElementChild;
    while (before && compareIds(before.dataset.id, first) >= 0) before = before.previousElementSibling;
    el.messages.insertBefore(li, before ? before.nextElementSibling : el.messages.firstElementChild);
  }

  // ---- live messages: one stream per browser, shared by its tabs ----

  // ---- typing and presence ----

  // The open room's typing users and who is online in it (docs/API.md,
  // "Typing and presence"). Signals carry no id and are never replayed: a
  // room's presence is read afresh when it is opened.
  const TYPING_SEND_MS = 3000;  // at most one typing signal of ours per 3 s
  const ONLINE_SHOWN = 20;      // names listed in the header at most
  const ephemeral = {
    room: null,          // the room the state below is of
    typing: new Map(),   // userId → {name, until}: others typing, until when (ms)
    online: null,        // {count, users: Map userId → name}, null before the first read
    typingSentAt: 0,     // when we last said we are typing
    timer: 0,            // drops expired typing indicators
    reloading: false,    // a presence read is in flight
    again: false,        // read once more when it returns
    live: false,         // the room's stream is live: this user is online in it
  };

  const hasEphemeral = (room) => Boolean(room) && room !== 'lobby';

  function renderTyping() {
    const now = Date.now();
    for (const [id, t] of ephemeral.typing) if (t.until <= now) ephemeral.typing.delete(id);
    const names = [...ephemeral.typing.values()].map((t) => t.name || 'Someone');
    el.typing.textContent = !names.length ? ''
      : names.length === 1 ? names[0] + ' is typing…'
        : names.length <= 3 ? names.join(', ') + ' are typing…' : 'Several people are typing…';
    clearTimeout(ephemeral.timer);
    if (ephemeral.typing.size) ephemeral.timer = setTimeout(renderTyping, 500);
  }

  function renderOnline() {
    const o = ephemeral.online;
    el.online.hidden = !o;
    if (!o) return;
    const names = [...o.users.values()].sort().slice(0, ONLINE_SHOWN);
    const more = o.count > names.length ? ' and ' + (o.count - names.length) + ' more' : '';
    el.online.textContent = o.count + ' online' + (names.length ? ': ' + names.join(', ') + more : '');
  }

  // The open room's users online, read afresh.
  async function loadPresence(view) {
    if (!view || !hasEphemeral(view.room)) return;
    if (ephemeral.reloading) {
      ephemeral.again = true;
      return;
    }
    ephemeral.reloading = true;
    try {
      const { data } = await api('GET', '/room/' + view.room + '/presence?limit=100');
      if (view !== current || ephemeral.room !== view.room) return;
      const users = new Map((data.users || []).map((u) => [u.userId, u.name]));
      let count = data.count;
      // our stream is open, so we are online, even if the read came first
      if (ephemeral.live && state.me && !users.has(state.me.id)) {
        users.set(state.me.id, state.me.name);
        count++;
      }
      ephemeral.online = { count, users };
      renderOnline();
    } catch (e) {
      // no presence for now: the header shows none
    } finally {
      ephemeral.reloading = false;
    }
    if (ephemeral.again) {
      ephemeral.again = false;
      loadPresence(current);
    }
  }

  function resetEphemeral(view) {
    ephemeral.room = view.room;
    ephemeral.typing.clear();
    ephemeral.online = null;
    ephemeral.typingSentAt = 0;
    ephemeral.live = false;
    renderTyping();
    renderOnline();
    if (hasEphemeral(view.room)) loadPresence(view);
  }

  // A typing or presence signal of a room, from our stream or the leader's.
  function onSignal(kind, data) {
    if (!data || !current || data.room !== current.room || ephemeral.room !== data.room) return;
    if (kind === 'typing') {
      if (state.me && data.userId === state.me.id) return;
      if (data.stopped) ephemeral.typing.delete(data.userId);
      else ephemeral.typing.set(data.userId, { name: data.name, until: Date.now() + (data.expiresIn || 6000) });
      renderTyping();
    } else if (kind === 'presence' && ephemeral.online) {
      const o = ephemeral.online;
      o.count = data.count;
      if (Array.isArray(data.joined)) data.joined.forEach((u) => o.users.set(u.userId, u.name));
      if (Array.isArray(data.left)) data.left.forEach((u) => o.users.delete(u.userId));
      if (data.changes !== undefined) loadPresence(current); // too many changes to list
      renderOnline();
    }
  }

  // The open room's stream went live: who is online is read afresh.
  function roomReady(room) {
    if (!current || current.room !== room || ephemeral.room !== room) return;
    ephemeral.live = true;
    loadPresence(current);
  }

  // The user types: say so, at most every TYPING_SEND_MS.
  function typed() {
    const view = current;
    if (!view || !hasEphemeral(view.room) || !el.text.value.trim()) return;
    const now = Date.now();
    if (now - ephemeral.typingSentAt < TYPING_SEND_MS) return;
    ephemeral.typingSentAt = now;
    api('POST', '/room/' + view.room + '/typing', {}).catch(() => {}); // a lost signal is harmless
  }

  // One tab (the leader, which holds a Web Lock while it lives) opens the
  // stream for the rooms of every tab and posts each event to the others on
  // a BroadcastChannel. When the leader closes, the lock passes to another
  // tab, which opens the stream from the last position every tab has seen.
  // Without BroadcastChannel or Web Locks (plain HTTP to any host but this
  // machine is no secure context) every tab holds its own stream.
  const live = (() => {
    const tab = newClientMsgId(); // any id of its own
    const channel = 'BroadcastChannel' in window ? new BroadcastChannel('clusterchat-live') : null;
    const sharing = Boolean(channel && navigator.locks);
    const wants = new Map();     // leader: tab → what it shows ({room, cursor, rooms})
    const positions = new Map(); // room → last id a stream delivered (every tab keeps it)
    let me = { room: null, cursor: null, rooms: [] }; // what this tab shows
    let leader = !sharing;       // this tab holds the stream
    let stream = null;           // the client's ChatStream (leader)
    let transport = 'WebSocket' in window ? 'ws' : 'sse'; // 'sse' once a first WebSocket failed
    let streamRooms = '';        // its rooms, sorted, comma-separated
    let failures = 0;            // streams whose session ended in a row, for the back-off
    let reopenTimer = 0, changeTimer = 0;

    const post = (message) => { if (channel) channel.postMessage(message); };

    // In every tab: a message of a room arrived, from our stream or the leader's.
    function deliver(room, m) {
      positions.set(room, m.id);
      noticeEvent(m);
      noticeMemberEvent(room, m);
      countUnread(room, m);
      if (current && room === current.room) {
        const stick = nearBottom();
        if (current.cursor === null || compareIds(m.id, current.cursor) > 0) current.cursor = m.id;
        insertMessages(current, [m]);
        if (stick) scrollToBottom();
        markSeenSoon();
      } else if (!state.unread.has(room)) {
        state.unread.add(room);
        renderRooms();
      }
    }

    function showState(what) {
      setStatus(what === 'open' ? '' : what === 'offline' ? 'Offline — reconnecting…' : 'Reconnecting…');
      if (leader) post({ type: 'state', what });
    }

    // Leader: every tab's open room first, then the rooms they list; sorted,
    // so that the same rooms make the same stream.
    function wantedRooms() {
      const all = [me, ...wants.values()];
      const names = [];
      const add = (r) => { if (r && !names.includes(r) && names.length < STREAM_ROOMS_MAX) names.push(r); };
      all.forEach((w) => { if (w.roomExists) add(w.room); });
      all.forEach((w) => w.rooms.forEach(add));
      return names.sort();
    }

    // Where each room starts (room → id): the lower of the position seen and
    // the open room's cursor of a tab (rendering drops what a tab has already).
    function startPositions(names) {
      const start = new Map(positions);
      for (const w of [me, ...wants.values()]) {
        if (!w.room || w.cursor === null) continue;
        const known = start.get(w.room);
        if (known === undefined || compareIds(w.cursor, known) < 0) start.set(w.room, w.cursor);
      }
      return new Map(names.filter((r) => start.has(r)).map((r) => [r, start.get(r)]));
    }

    // In the leader: an event of the stream, for this tab and the others.
    function received(room, m) {
      post({ type: 'message', room, message: m });
      deliver(room, m);
    }

    // In the leader: the user's marker moved (any tab, any device).
    function receivedMarker(m) {
      if (!m || typeof m.room !== 'string' || typeof m.id !== 'string') return;
      post({ type: 'marker', room: m.room, id: m.id });
      markerMoved(m.room, m.id);
    }

    function receivedSignal(kind, data) {
      post({ type: 'signal', kind, data });
      onSignal(kind, data);
    }

    // A room's stream is (again) live: signals missed meanwhile are gone,
    // so every tab showing it reads who is online afresh.
    function streamReady(room) {
      post({ type: 'ready', room });
      roomReady(room);
    }

    function receivedGap(g) {
      if (!g || typeof g.room !== 'string') return;
      post({ type: 'gap', room: g.room, first: g.first });
      if (current && g.room === current.room) showGap(current, g.first);
    }

    // The client's stream for the rooms every tab wants (a WebSocket, or the
    // event stream where a first WebSocket closed before it got ready), with
    // the rooms' signals and the user's markers. It reconnects and resumes by
    // itself; this tab passes on what it delivers.
    function openStream() {
      clearTimeout(reopenTimer);
      const old = stream;
      stream = null;
      if (old) old.close();
      const names = wantedRooms();
      streamRooms = names.join(',');
      if (!names.length) return;
      const s = client.stream({
        rooms: names, positions: startPositions(names), transport, signals: true, user: Boolean(state.me),
      });
      stream = s;
      const on = (kind, fn) => s.on(kind, (data) => { if (stream === s) fn(data); });
      on('entry', ({ room, data }) => received(room, data));
      on('marker', receivedMarker);
      on('typing', (data) => receivedSignal('typing', data));
      on('presence', (data) => receivedSignal('presence', data));
      on('gap', receivedGap);
      on('live', (live) => {
        failures = 0;
        for (const [room, id] of Object.entries(live.positions)) if (!positions.has(room)) positions.set(room, id);
        showState('open');
        s.rooms.forEach(streamReady);
      });
      on('state', (what) => {
        if (what === 'reconnecting') showState(navigator.onLine === false ? 'offline' : 'reconnecting');
        else if (what === 'closed') streamEnded(); // by itself: its session ended (4001)
      });
      on('fallback', () => { transport = 'sse'; });
      on('unsubscribed', ({ room }) => {
        post({ type: 'revoked', room });
        accessEnded(room);
      });
    }

    // The stream ended by itself (a WebSocket closed with 4001: its session
    // ended): the page asks who is logged in, and a stream starts again if
    // it still is.
    function streamEnded() {
      stream = null;
      showState('reconnecting');
      checkSessionQuietly();
      failures++;
      reopenTimer = setTimeout(openStream, Math.min(500 * 2 ** failures, 10000));
    }

    // Leader: a new stream when the rooms changed (a short wait gathers the
    // changes of several tabs into one).
    function roomsChanged() {
      clearTimeout(changeTimer);
      changeTimer = setTimeout(() => {
        if (leader && wantedRooms().join(',') !== streamRooms) openStream();
      }, 50);
    }

    function announce() {
      if (leader) roomsChanged();
      else post({ type: 'want', tab, want: me });
    }

    if (channel) {
      channel.onmessage = (event) => {
        const msg = event.data || {};
        if (msg.type === 'message') deliver(msg.room, msg.message);
        else if (msg.type === 'gap' && current && msg.room === current.room) showGap(current, msg.first);
        else if (msg.type === 'revoked') accessEnded(msg.room);
        else if (msg.type === 'marker') markerMoved(msg.room, msg.id);
        else if (msg.type === 'signal') onSignal(msg.kind, msg.data);
        else if (msg.type === 'ready') roomReady(msg.room);
        else if (msg.type === 'state' && !leader) showState(msg.what);
        else if (msg.type === 'want' && leader) { wants.set(msg.tab, msg.want); roomsChanged(); }
        else if (msg.type === 'leave' && leader) { wants.delete(msg.tab); roomsChanged(); }
        else if (msg.type === 'leader' && !leader) announce();
      };
    }
    if (sharing) {
      navigator.locks.request('clusterchat-live', () => {
        leader = true;
        post({ type: 'leader' }); // the others say what they show
        roomsChanged();
        return new Promise(() => {}); // held while this tab lives
      });
    }

    return {
      // This tab shows room (null: none) and has its messages up to cursor.
      follow(room, cursor) {
        // only rooms that exist: the server refuses a stream with any other
        const roomExists = room === 'lobby' || state.rooms.includes(room);
        me = { room, cursor, roomExists, rooms: room ? state.rooms.slice(0, STREAM_ROOMS_MAX) : [] };
        announce();
      },
      // The network is back: a stream the browser gave up on starts again.
      online() {
        if (!leader) return;
        if (stream && stream.state === 'live') showState('open');
        else openStream();
      },
      // The tab goes away (its lock, if it leads, passes on by itself).
      leave() {
        if (!leader) post({ type: 'leave', tab });
        else if (stream) stream.close();
      },
    };
  })();

  // ---- sending ----

  // Messages leave through the client's outbox: one at a time, in the order
  // they were written, each with one clientMsgId for every attempt (chatd
  // stores it once, however often it arrives); a message that must wait (the
  // server asked us to slow down, or could not be reached) holds back the
  // ones after it. While one waits, the composer says so. In the tab that
  // holds the stream they go over its WebSocket once it is ready (the
  // client lends the socket to its outbox), elsewhere by POST.
  let sendingAgain = false; // the "Sending again…" note is shown

  function submitMessage(event) {
    event.preventDefault();
    const view = current;
    const text = el.text.value;
    if (!view || !text.trim()) return;
    if (new TextEncoder().encode(text).length > TEXT_MAX_BYTES) {
      showError(el.sendError, WORDS.too_long);
      return;
    }
    showError(el.sendError, '');
    el.text.value = '';
    const replyTo = state.replyTo && state.replyTo.view === view ? state.replyTo.id : undefined;
    cancelReply();
    ephemeral.typingSentAt = 0; // the next message's typing is said at once
    client.send(view.room, text, { replyTo }).then((m) => sent(view, m), (e) => notSent(view, text, e));
  }

  function sent(view, m) {
    if (sendingAgain) showError(el.sendError, '');
    sendingAgain = false;
    insertMessages(view, [m]);
    if (view === current) scrollToBottom();
  }

  function notSent(view, text, e) {
    sendingAgain = false;
    if (e.status === 401) return; // the session is gone: nothing more can be sent
    if (view === current && !el.text.value) el.text.value = text; // give the text back
    showError(el.sendError, words(e.code, e.message));
  }

  client.on('retry', ({ clientMsgId, error, delayMs }) => {
    if (!clientMsgId) return; // a read, not a send
    sendingAgain = true;
    showError(el.sendError, error.status === 429
      ? 'Sending too fast: sending again in ' + Math.round(delayMs / 1000) + ' s…'
      : words(error.code, error.message) + ' Sending again…');
  });

  function onComposerKey(event) {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      el.sendForm.requestSubmit();
    }
  }

  // ---- wiring ----

  el.authForm.addEventListener('submit', submitAuth);
  el.authSwitch.addEventListener('click', () => setAuthMode(!state.registering));
  el.logout.addEventListener('click', logout);
  el.roomForm.addEventListener('submit', createRoom);
  el.inviteForm.addEventListener('submit', invite);
  el.leaveRoom.addEventListener('click', leaveRoom);
  el.joinRoom.addEventListener('click', joinRoom);
  el.joinForm.addEventListener('submit', joinByName);
  el.showMembers.addEventListener('click', () => showMembers(el.memberPanel.hidden));
  el.messages.addEventListener('keydown', (event) => { if (event.key === 'Escape') closeMenus(); });
  window.addEventListener('focus', refreshRoomsSoon);
  window.addEventListener('focus', markSeenSoon);
  document.addEventListener('visibilitychange', markSeenSoon);
  el.scroller.addEventListener('scroll', markSeenSoon, { passive: true });
  document.addEventListener('visibilitychange', () => { if (!document.hidden) refreshRoomsSoon(); });
  el.sendForm.addEventListener('submit', submitMessage);
  el.replyCancel.addEventListener('click', cancelReply);
  el.text.addEventListener('keydown', onComposerKey);
  el.text.addEventListener('input', () => showError(el.sendError, ''));
  el.text.addEventListener('input', typed);
  el.older.addEventListener('click', () => current && loadOlder(current));
  el.scroller.addEventListener('scroll', () => {
    if (current && el.scroller.scrollTop < 120) loadOlder(current);
  });
  // A room a link names may be missing from the pages listed so far (or be
  // newer than the list): page on until it is there, so that it is followed.
  window.addEventListener('hashchange', () => {
    if (!state.me) return;
    const room = roomFromHash();
    openRoom(room);
    if (!state.rooms.includes(room)) loadRooms();
  });
  window.addEventListener('offline', () => { if (state.me) setStatus('Offline — reconnecting…'); });
  window.addEventListener('online', () => live.online());
  window.addEventListener('pagehide', () => live.leave());

  setAuthMode(false);
  checkSession();
})();
