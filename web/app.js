// herald console: log in by name, connect to the comet over WebSocket with the goim v2 protocol
// (DESIGN.md §3, docs/im.md), show pushes and messages, send private and room messages.
// Plain browser JavaScript, no build step. Untrusted text is only ever set as textContent.
'use strict';

const OP = {
  HEARTBEAT: 2, HEARTBEAT_REPLY: 3, SEND_MSG: 4, SEND_MSG_REPLY: 5, DISCONNECT: 6,
  AUTH: 7, AUTH_REPLY: 8, RAW: 9, CHANGE_ROOM: 12, CHANGE_ROOM_REPLY: 13, ACK: 18,
};
const OP_CHAT = 1000; // the business op of chat messages; also what pushes are accepted on
const HEADER_LEN = 16;
const VERSION = 1;
const RECONNECT_MAX_MS = 10000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const $ = (id) => document.getElementById(id);

// ------------------------------------------------------------------------------ wire codec

// One packet: 16-byte big-endian header (packLen, headerLen, ver, op, seq), then the body.
function pack(op, seq, body) {
  const payload = typeof body === 'string' ? encoder.encode(body) : new Uint8Array(0);
  const buf = new ArrayBuffer(HEADER_LEN + payload.length);
  const view = new DataView(buf);
  view.setUint32(0, HEADER_LEN + payload.length);
  view.setUint16(4, HEADER_LEN);
  view.setUint16(6, VERSION);
  view.setUint32(8, op);
  view.setUint32(12, seq);
  new Uint8Array(buf, HEADER_LEN).set(payload);
  return buf;
}

// Every packet of one WebSocket message, with op 9 batches unpacked in order. Throws on a
// malformed packet (the caller drops the connection, as the server would).
function unpack(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const packets = [];
  for (let off = 0; off < bytes.byteLength;) {
    if (bytes.byteLength - off < HEADER_LEN) throw new Error('truncated header');
    const packLen = view.getUint32(off);
    if (view.getUint16(off + 4) !== HEADER_LEN || packLen < HEADER_LEN ||
        packLen > bytes.byteLength - off) throw new Error('bad packet length');
    const op = view.getUint32(off + 8);
    const seq = view.getUint32(off + 12);
    const body = bytes.subarray(off + HEADER_LEN, off + packLen);
    if (op === OP.RAW) packets.push(...unpack(body));
    else packets.push({ op, seq, body });
    off += packLen;
  }
  return packets;
}

function parseJson(bytes) {
  try { return JSON.parse(decoder.decode(bytes)); } catch { return null; }
}

// ------------------------------------------------------------------------------ logic's HTTP API

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// body (optional) goes as JSON: the password travels there, never in the URL.
async function api(method, path, params, body) {
  const init = { method };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { 'Content-Type': 'application/json' };
  }
  const res = await fetch(`${path}?${new URLSearchParams(params)}`, init);
  const reply = await res.json().catch(() => null);
  if (!res.ok || !reply || reply.code !== 0)
    throw new ApiError(res.status, (reply && reply.message) || res.statusText);
  return reply.data;
}

// Logs in by name and password, registering the name with it on first use (as herald-cli chat
// does): a 401 may be an unknown name; if the name then turns out taken, the password was wrong.
async function login(name, password) {
  const params = { name, platform: 'web' };
  try {
    return await api('POST', '/herald/v1/login', params, { password });
  } catch (e) {
    if (e.status !== 401) throw e;
  }
  try {
    await api('POST', '/herald/v1/users', { name }, { password });
  } catch (e) {
    throw e.status === 409 ? new ApiError(401, 'wrong name or password') : e;
  }
  return api('POST', '/herald/v1/login', params, { password });
}

// Name or id → user id. Names are never only digits, so digits are an id.
const midCache = new Map();
async function resolveMid(target) {
  if (/^[0-9]+$/.test(target)) return Number(target);
  if (!midCache.has(target)) {
    const user = await api('GET', '/herald/v1/users', { name: target });
    midCache.set(target, user.mid);
  }
  return midCache.get(target);
}

// ------------------------------------------------------------------------------ the log

function clock() {
  return new Date().toTimeString().slice(0, 8);
}

function show(kind, text) {
  const log = $('log');
  const li = document.createElement('li');
  li.className = kind;
  const time = document.createElement('time');
  time.textContent = `[${clock()}]`;
  li.append(time, text);
  log.append(li);
  log.scrollTop = log.scrollHeight;
}

function setStatus(state) {
  $('status').dataset.state = state;
  $('status').textContent = state;
}

// ------------------------------------------------------------------------------ the connection

const session = {
  user: null,         // login reply: mid, name, token, comet
  password: '',       // for a login again when the token is refused; forgotten at logout
  room: '',           // current room ('' = none)
  ws: null,
  seq: 0,             // of our op 4 and op 12 packets
  lastSeq: 0,         // highest per-user push seq received; sent as last_seq on reconnect
  sent: new Map(),    // op 4 seq → what was sent, to explain an op 5 error
  heartbeat: null,
  retryMs: 500,
  retryTimer: null,
  moveTimer: null,    // a drain notice: when to move to another comet
  stopped: true,      // logged out or kicked: no reconnect
};

// A page served over https may open only wss:// (browsers block a ws:// from it): then the
// comet's WSS address from the login reply, which is "" when that comet has no WSS listener.
function cometUrl(comet) {
  if (location.protocol !== 'https:') return comet.ws;
  if (!comet.wss) throw new Error('this page is served over https, but the comet has no wss:// listener');
  return comet.wss;
}

function connect() {
  let url;
  try {
    url = cometUrl(session.user.comet);
  } catch (e) {
    show('error', e.message);
    setStatus('offline');
    session.stopped = true;
    return;
  }
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  session.ws = ws;
  setStatus('connecting');
  ws.onopen = () => ws.send(pack(OP.AUTH, 0, JSON.stringify({
    token: session.user.token, room_id: session.room, platform: 'web',
    accepts: [OP_CHAT], last_seq: session.lastSeq,
  })));
  ws.onmessage = (ev) => {
    let packets;
    try {
      packets = unpack(new Uint8Array(ev.data));
    } catch (e) {
      show('error', `protocol error: ${e.message}`);
      ws.close();
      return;
    }
    const before = session.lastSeq;
    packets.forEach(onPacket);
    if (session.lastSeq > before && ws.readyState === WebSocket.OPEN)
      ws.send(pack(OP.ACK, session.lastSeq)); // one ack covers the whole batch
  };
  ws.onclose = () => {
    if (session.ws !== ws) return;
    clearInterval(session.heartbeat);
    session.ws = null;
    setStatus('offline');
    // A comet that drains closes at the time its notice named: the move timer dials then.
    if (!session.stopped && !session.moveTimer) reconnectLater();
  };
}

// The comet to move to after a drain notice: the first of logic's comets (nodes/weighted's
// "comets", best first) that is not the one being left (logic no longer lists a draining comet;
// the check covers a list read before it knew). An https page needs the comet's wss address; a
// comet without one is skipped there.
async function nextComet(leaving) {
  const data = await api('GET', '/goim/nodes/weighted', { platform: 'web' });
  const https = location.protocol === 'https:';
  const url = (c) => (https ? `wss://${c.wss}/sub` : `ws://${c.ws}/sub`);
  const usable = (data.comets || []).filter((c) => (https ? c.wss : c.ws));
  const next = usable.find((c) => url(c) !== (https ? leaving.wss : leaving.ws)) || usable[0];
  if (!next) return leaving; // no comet listed: the one left may be back
  return {
    id: next.id,
    ws: next.ws ? `ws://${next.ws}/sub` : '',
    wss: next.wss ? `wss://${next.wss}/sub` : '',
  };
}

// Op 6 {"reason":"reconnect","after_ms":N}: this comet is going away. Pushes still arrive on it
// for N ms; then the page moves to another comet, resuming with last_seq (nothing is missed).
// N differs per connection, so a comet's clients do not all reconnect in the same second.
function moveLater(afterMs) {
  const ms = Math.min(Math.max(Number(afterMs) || 0, 0), 3600000);
  show('info', `the comet is going away; moving to another in ${(ms / 1000).toFixed(1)} s`);
  clearTimeout(session.moveTimer);
  session.moveTimer = setTimeout(async () => {
    const old = session.ws;
    session.ws = null; // its close is expected: no reconnectLater
    if (old) old.close();
    clearInterval(session.heartbeat);
    try {
      session.user.comet = await nextComet(session.user.comet);
    } catch (e) {
      show('error', `no other comet: ${e.message}`);
    }
    session.moveTimer = null;
    if (!session.stopped) connect();
  }, ms);
}

function reconnectLater() {
  show('info', `connection lost; reconnecting in ${session.retryMs / 1000} s`);
  session.retryTimer = setTimeout(connect, session.retryMs);
  session.retryMs = Math.min(session.retryMs * 2, RECONNECT_MAX_MS);
}

function send(op, body) {
  session.seq += 1;
  session.ws.send(pack(op, session.seq, body));
  return session.seq;
}

function onPacket(p) {
  switch (p.op) {
  case OP.AUTH_REPLY: return onAuthReply(parseJson(p.body) || {});
  case OP.HEARTBEAT_REPLY: // body: int32 count of the room's members on every comet
    if (p.body.length >= 4)
      $('me-online').textContent = new DataView(p.body.buffer, p.body.byteOffset).getInt32(0);
    return;
  case OP.SEND_MSG_REPLY: return onSendReply(p.seq, parseJson(p.body) || {});
  case OP.CHANGE_ROOM_REPLY:
    session.room = decoder.decode(p.body);
    $('me-room').textContent = session.room || '(none)';
    show('info', session.room ? `now in room ${session.room}` : 'left the room');
    session.ws.send(pack(OP.HEARTBEAT, 0)); // refreshes the online count
    return;
  case OP.DISCONNECT: {
    const body = parseJson(p.body) || {};
    if (body.reason === 'reconnect') return moveLater(body.after_ms);
    if (body.reason === 'auth') return onAuthRefused(body); // docs/protocol.md
    const reason = body.reason || decoder.decode(p.body);
    show('error', `disconnected by the server: ${reason}`);
    session.stopped = true;
    return;
  }
  default:
    if (p.op >= OP_CHAT) onPush(p);
  }
}

// Op 6 {"reason":"auth","code","message"}: the token was refused (revoked, expired). Log in
// again; the close that follows reconnects with the new token.
async function onAuthRefused(kick) {
  show('error', `auth refused: ${kick.message || kick.code}; logging in again`);
  session.ws.close();
  try {
    session.user = await login(session.user.name, session.password);
  } catch (e) {
    show('error', `login failed: ${e.message}`);
    session.stopped = true;
    clearTimeout(session.retryTimer);
  }
}

async function onAuthReply(reply) {
  session.retryMs = 500;
  setStatus('connected');
  $('me-mid').textContent = `mid ${reply.mid}`;
  $('me-mid').dataset.mid = reply.mid;
  $('me-room').textContent = session.room || '(none)';
  if (reply.recovered === false) show('error', 'some messages sent while offline are gone');
  clearInterval(session.heartbeat);
  const every = reply.heartbeat_ms || 30000;
  session.heartbeat = setInterval(() => session.ws.send(pack(OP.HEARTBEAT, 0)), every);
  session.ws.send(pack(OP.HEARTBEAT, 0)); // the first reply brings the online count
  show('info', `connected to ${session.user.comet.id} as ${session.user.name}`);
}

function onSendReply(seq, reply) {
  const what = session.sent.get(seq) || '';
  session.sent.delete(seq);
  if (reply.code === 0) return;
  const brief = what.length > 80 ? `${what.slice(0, 80)}…` : what;
  show('error', `not sent (${reply.code} ${reply.message || ''}): ${brief}`);
}

// A chat message (logic's envelope) or any other business push, shown raw.
function onPush(p) {
  if (p.seq > session.lastSeq) session.lastSeq = p.seq; // a push to this user: acked by the caller
  const m = parseJson(p.body);
  if (m && typeof m === 'object' && 'from' in m && 'msg' in m) {
    const who = m.from_name || `#${m.from}`;
    const msg = typeof m.msg === 'string' ? m.msg : JSON.stringify(m.msg);
    if ('to_mid' in m) show('private', `${who} (private): ${msg}`);
    else show('msg', `${who}: ${msg}`);
    return;
  }
  show('push', `push op ${p.op}${p.seq ? ` seq ${p.seq}` : ''}: ${decoder.decode(p.body)}`);
}

// ------------------------------------------------------------------------------ user actions

// "@name text" or "@mid text" is private; anything else goes to the current room.
async function sendText(text) {
  if (!session.ws || session.ws.readyState !== WebSocket.OPEN) throw new Error('not connected');
  const priv = /^@(\S+)\s+([\s\S]+)$/.exec(text);
  if (priv) {
    const mid = await resolveMid(priv[1]);
    const seq = send(OP.SEND_MSG, JSON.stringify({ to_mid: mid, op: OP_CHAT, msg: priv[2] }));
    session.sent.set(seq, text);
    show('private', `to ${priv[1]} (private): ${priv[2]}`); // not echoed by the server
    return;
  }
  if (!session.room) throw new Error('not in a room: change room first, or write @name text');
  const seq = send(OP.SEND_MSG, JSON.stringify({ to_room: session.room, op: OP_CHAT, msg: text }));
  session.sent.set(seq, text);
}

async function showOnline() {
  const data = await api('GET', '/herald/v1/online/users', { limit: 100, cursor: 0 });
  const names = data.users.map((u) => u.name || `#${u.mid}`);
  show('info', `online: ${names.join(', ') || 'nobody'}${data.next_cursor ? ' …' : ''}`);
}

async function logout() {
  session.stopped = true;
  session.password = '';
  clearTimeout(session.retryTimer);
  clearTimeout(session.moveTimer);
  session.moveTimer = null;
  try {
    await api('POST', '/herald/v1/logout', { token: session.user.token });
  } finally {
    if (session.ws) session.ws.close();
    $('console').hidden = true;
    $('login-form').hidden = false;
    setStatus('offline');
  }
}

// Runs an action from a form or button, showing its failure in the log.
function action(fn) {
  return (ev) => {
    if (ev) ev.preventDefault();
    Promise.resolve().then(fn).catch((e) => show('error', e.message));
  };
}

$('login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const button = $('login');
  button.disabled = true;
  $('login-error').textContent = '';
  const password = $('password').value;
  login($('name').value.trim(), password).then((user) => {
    // The password stays in this page's memory only, for a login again when the token is
    // refused; never in storage.
    Object.assign(session, { user, password, room: $('room').value.trim(), stopped: false,
      lastSeq: 0 });
    $('password').value = '';
    $('me-name').textContent = user.name;
    $('login-form').hidden = true;
    $('console').hidden = false;
    connect();
  }).catch((e) => {
    $('login-error').textContent = `login failed: ${e.message}`;
  }).finally(() => { button.disabled = false; });
});

$('send-form').addEventListener('submit', action(async () => {
  const text = $('text').value.trim();
  if (!text) return;
  await sendText(text);
  $('text').value = '';
}));

$('room-form').addEventListener('submit', action(() => {
  if (!session.ws || session.ws.readyState !== WebSocket.OPEN) throw new Error('not connected');
  send(OP.CHANGE_ROOM, $('new-room').value.trim());
  $('new-room').value = '';
}));

$('online').addEventListener('click', action(showOnline));
$('logout').addEventListener('click', action(logout));
