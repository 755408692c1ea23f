// Drive a Pulseboard server with the official Node `socket.io-client` 4.8
// through every client->server event and ack of the wire contract
// (shared/protocol.md), over one transport. Used by
// crates/server/tests/interop_node.rs; also handy against any backend:
//
//   node interop/client-check.mjs --url http://127.0.0.1:4000 --token T \
//        --transport websocket|polling
//
// The server must be fresh (no notifications yet) and have its simulator off,
// so that every update seen is one this script caused. Prints one line per
// check; exits 1 on the first failure with the reason.
import { deepStrictEqual } from "node:assert/strict";
import { parseArgs } from "node:util";
import { io } from "socket.io-client";

const { values: args } = parseArgs({
  options: {
    url: { type: "string" },
    token: { type: "string" },
    transport: { type: "string", default: "websocket" },
    timeout: { type: "string", default: "5000" }, // per ack / awaited event, ms
  },
});
if (!args.url || !args.token || !["websocket", "polling"].includes(args.transport)) {
  console.error("usage: client-check.mjs --url URL --token TOKEN --transport websocket|polling");
  process.exit(2);
}
const URL_ = args.url.replace(/\/$/, "");
const TOKEN = args.token;
const TRANSPORT = args.transport;
const T = Number(args.timeout);
const MODULES = ["reports", "finance", "hr", "security"];

// ------------------------------------------------------------ reporting

const sockets = [];
function fail(msg) {
  console.log(`FAIL [${TRANSPORT}] ${current}: ${msg}`);
  for (const s of sockets) s.disconnect();
  process.exit(1);
}
let current = "startup";
let checks = 0;
async function check(name, fn) {
  current = name;
  try {
    await fn();
  } catch (e) {
    fail(e instanceof CheckFailed ? e.message : (e?.stack ?? String(e)));
  }
  checks += 1;
  console.log(`ok   [${TRANSPORT}] ${name}`);
}
class CheckFailed extends Error {}
function assert(cond, msg) {
  if (!cond) throw new CheckFailed(msg);
}
const eq = (actual, expected, what) => {
  try {
    deepStrictEqual(actual, expected);
  } catch {
    throw new CheckFailed(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
};
// Nothing may hang: the whole run has a deadline too.
setTimeout(() => fail("overall deadline of 60 s passed"), 60_000).unref();

// ------------------------------------------------------------ shapes

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
function ts(v, what) {
  assert(typeof v === "string" && RFC3339.test(v) && !Number.isNaN(Date.parse(v)), `${what} is not RFC 3339: ${JSON.stringify(v)}`);
}
function kpiShape(k, what) {
  assert(isObj(k), `${what} is not an object`);
  assert(typeof k.key === "string" && k.key.trim(), `${what}.key`);
  assert(typeof k.label === "string" && k.label.trim(), `${what}.label`);
  assert(typeof k.value === "number" && Number.isFinite(k.value), `${what}.value`);
  if (k.unit !== undefined) assert(typeof k.unit === "string", `${what}.unit`);
  if (k.delta !== undefined) assert(typeof k.delta === "number", `${what}.delta`);
  if (k.status !== undefined) assert(["ok", "warning", "critical"].includes(k.status), `${what}.status ${k.status}`);
}
function moduleKpisShape(m, module) {
  assert(isObj(m), `ModuleKpis is not an object: ${JSON.stringify(m)}`);
  eq(m.module, module, "ModuleKpis.module");
  assert(Array.isArray(m.kpis), "ModuleKpis.kpis is not an array");
  m.kpis.forEach((k, i) => kpiShape(k, `kpis[${i}]`));
  ts(m.updatedAt, "ModuleKpis.updatedAt");
}
function dashboardShape(d) {
  assert(isObj(d), `Dashboard is not an object: ${JSON.stringify(d)}`);
  assert(Array.isArray(d.summary) && d.summary.length === 6, `summary must hold 6 KPIs: ${JSON.stringify(d.summary)}`);
  assert(Array.isArray(d.topKpis) && d.topKpis.length === 4, `topKpis must hold 4 KPIs: ${JSON.stringify(d.topKpis)}`);
  d.summary.forEach((k, i) => kpiShape(k, `summary[${i}]`));
  d.topKpis.forEach((k, i) => kpiShape(k, `topKpis[${i}]`));
  ts(d.updatedAt, "Dashboard.updatedAt");
}
function notificationShape(n) {
  assert(isObj(n), `Notification is not an object: ${JSON.stringify(n)}`);
  assert(typeof n.id === "string" && n.id, "Notification.id");
  assert(Number.isSafeInteger(n.seq) && n.seq >= 1, `Notification.seq ${n.seq}`);
  assert(typeof n.title === "string" && n.title.trim(), "Notification.title");
  assert(typeof n.body === "string", "Notification.body");
  assert(["info", "success", "warning", "error"].includes(n.severity), `Notification.severity ${n.severity}`);
  if (n.module !== undefined) assert(MODULES.includes(n.module), `Notification.module ${n.module}`);
  ts(n.createdAt, "Notification.createdAt");
  assert(typeof n.read === "boolean", "Notification.read");
}
function alertShape(a) {
  assert(isObj(a), `Alert is not an object: ${JSON.stringify(a)}`);
  assert(typeof a.id === "string" && a.id, "Alert.id");
  assert(["info", "warning", "critical"].includes(a.severity), `Alert.severity ${a.severity}`);
  assert(typeof a.title === "string" && a.title.trim(), "Alert.title");
  assert(typeof a.message === "string", "Alert.message");
  ts(a.createdAt, "Alert.createdAt");
}
// Same notification (createdAt compared as an instant: precision may differ).
function sameNotification(got, want, what) {
  const strip = ({ createdAt, ...rest }) => rest;
  eq(strip(got), strip(want), what);
  eq(Date.parse(got.createdAt), Date.parse(want.createdAt), `${what}.createdAt instant`);
}

// ------------------------------------------------------------ plumbing

async function api(method, path, body, expectStatus) {
  const res = await fetch(`${URL_}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(T),
  });
  const json = await res.json();
  assert(res.status === expectStatus, `${method} ${path}: expected ${expectStatus}, got ${res.status} ${JSON.stringify(json)}`);
  return json;
}

function connect(auth, { expectError = false } = {}) {
  const opts = {
    transports: [TRANSPORT],
    upgrade: false,
    reconnection: false,
    forceNew: true,
    timeout: T,
    autoConnect: false,
  };
  if (auth !== undefined) opts.auth = auth;
  const s = io(URL_, opts);
  sockets.push(s);
  // Buffer every event from the start, so nothing is missed between awaits.
  s.seen = [];
  s.onAny((event, ...payload) => s.seen.push({ event, payload }));
  const status = new Promise((resolve) => s.once("connection:status", resolve));
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new CheckFailed("no connect or connect_error in time")), T);
    s.once("connect", () => {
      clearTimeout(timer);
      resolve({ ok: true });
    });
    s.once("connect_error", (err) => {
      clearTimeout(timer);
      resolve({ ok: false, err });
    });
  });
  s.connect();
  return { s, status, ready: ready.then((r) => (expectError || r.ok ? r : Promise.reject(new CheckFailed(`connect_error: ${r.err.message}`)))) };
}

// Wait for the next `event` on `s` (matching `pred`), counting from index `from` in its log.
function nextEvent(s, event, { from = s.seen.length, pred = () => true } = {}) {
  return new Promise((resolve, reject) => {
    const find = () => s.seen.slice(from).find((e) => e.event === event && pred(e.payload[0]));
    const hit = find();
    if (hit) return resolve(hit.payload[0]);
    const timer = setTimeout(() => {
      s.offAny(listener);
      reject(new CheckFailed(`no ${event} within ${T} ms; seen since: ${JSON.stringify(s.seen.slice(from).map((e) => e.event))}`));
    }, T);
    const listener = () => {
      const h = find();
      if (h) {
        clearTimeout(timer);
        s.offAny(listener);
        resolve(h.payload[0]);
      }
    };
    s.onAny(listener);
  });
}

async function ack(s, event, ...payload) {
  let a;
  try {
    a = await s.timeout(T).emitWithAck(event, ...payload);
  } catch (e) {
    throw new CheckFailed(`${event}: no ack within ${T} ms (${e.message})`);
  }
  assert(isObj(a), `${event}: the ack must be one object, got ${JSON.stringify(a)}`);
  return a;
}
async function ackOk(s, event, ...payload) {
  const a = await ack(s, event, ...payload);
  assert(a.ok === true, `${event} ${JSON.stringify(payload)}: expected ok:true, got ${JSON.stringify(a)}`);
  return a;
}
async function ackRefused(s, event, ...payload) {
  const a = await ack(s, event, ...payload);
  assert(
    a.ok === false && typeof a.error === "string" && a.error.length > 0,
    `${event} ${JSON.stringify(payload).slice(0, 200)}: expected {ok:false, error:string}, got ${JSON.stringify(a)}`,
  );
  return a;
}

const kpiList = (v) => ({ kpis: [{ key: "revenue", label: "Revenue", value: v, unit: "USD", delta: 1.5, status: "ok" }] });
const dashboardBody = (v) => {
  const card = (key) => ({ key, label: key.toUpperCase(), value: v });
  return { summary: ["a", "b", "c", "d", "e", "f"].map(card), topKpis: ["w", "x", "y", "z"].map(card) };
};

// ------------------------------------------------------------ checks

await check("wrong token: connect_error with message `unauthorized`", async () => {
  const { s, ready } = connect({ token: `${TOKEN}-wrong`, client: "interop-check/1" }, { expectError: true });
  const r = await ready;
  assert(!r.ok, "connected with a wrong token");
  eq(r.err.message, "unauthorized", "connect_error message");
  s.disconnect();
});

await check("missing auth: connect_error with message `unauthorized`", async () => {
  const { s, ready } = connect(undefined, { expectError: true });
  const r = await ready;
  assert(!r.ok, "connected without auth");
  eq(r.err.message, "unauthorized", "connect_error message");
  s.disconnect();
});

const A = connect({ token: TOKEN, client: "interop-check/1" });
const a = A.s;
await check(`right token: connected over ${TRANSPORT}`, async () => {
  await A.ready;
  eq(a.io.engine.transport.name, TRANSPORT, "engine transport");
});

await check("connection:status shape", async () => {
  const st = await Promise.race([A.status, new Promise((_, rej) => setTimeout(() => rej(new CheckFailed("no connection:status")), T))]);
  assert(isObj(st), "not an object");
  eq(st.status, "connected", "status");
  ts(st.serverTime, "serverTime");
  assert(typeof st.serverVersion === "string", "serverVersion is not a string");
  assert(Array.isArray(st.modules) && st.modules.every((m) => MODULES.includes(m)), `modules ${JSON.stringify(st.modules)}`);
});

let financeSnapshot;
await check("module:subscribe: ok with a ModuleKpis snapshot, for every module", async () => {
  for (const m of MODULES) {
    const r = await ackOk(a, "module:subscribe", { module: m });
    moduleKpisShape(r.snapshot, m);
    if (m === "finance") financeSnapshot = r.snapshot;
  }
});

await check("kpi:update:finance after PUT /api/kpis/finance", async () => {
  const from = a.seen.length;
  const put = await api("PUT", "/api/kpis/finance", kpiList(4242.5), 200);
  const ev = await nextEvent(a, "kpi:update:finance", { from });
  moduleKpisShape(ev, "finance");
  eq(ev, put, "event payload equals the PUT answer");
  eq(ev.kpis[0].value, 4242.5, "value");
  assert(Date.parse(ev.updatedAt) > Date.parse(financeSnapshot.updatedAt), "updatedAt moved forward");
});

await check("module:unsubscribe: ok, then no more kpi:update:finance (hr still flows)", async () => {
  const r = await ackOk(a, "module:unsubscribe", { module: "finance" });
  eq(r, { ok: true }, "unsubscribe ack");
  const from = a.seen.length;
  await api("PUT", "/api/kpis/finance", kpiList(1), 200);
  await api("PUT", "/api/kpis/hr", kpiList(2), 200);
  // hr was broadcast after finance: once hr is here, a finance update would be too.
  const hr = await nextEvent(a, "kpi:update:hr", { from });
  eq(hr.kpis[0].value, 2, "hr value");
  const finance = a.seen.slice(from).filter((e) => e.event === "kpi:update:finance");
  eq(finance.length, 0, "kpi:update:finance events after unsubscribe");
});

await check("dashboard:subscribe {}: ok with a Dashboard snapshot (6 + 4)", async () => {
  const r = await ackOk(a, "dashboard:subscribe", {});
  dashboardShape(r.snapshot);
});

await check("dashboard:update after PUT /api/dashboard", async () => {
  const from = a.seen.length;
  const put = await api("PUT", "/api/dashboard", dashboardBody(77), 200);
  const ev = await nextEvent(a, "dashboard:update", { from });
  dashboardShape(ev);
  eq(ev, put, "event payload equals the PUT answer");
  eq(ev.summary[0].value, 77, "summary value");
});

const posted = [];
await check("notification:subscribe: afterSeq returns only newer ones, oldest first", async () => {
  for (const [i, sev] of ["info", "warning", "success"].entries()) {
    const n = await api("POST", "/api/notifications", { title: `N${i + 1}`, body: `body ${i + 1}`, severity: sev, module: "finance" }, 201);
    notificationShape(n);
    eq(n.read, false, "new notification read flag");
    posted.push(n);
  }
  assert(posted[0].seq < posted[1].seq && posted[1].seq < posted[2].seq, `seq strictly increasing: ${posted.map((n) => n.seq)}`);
  const all = await ackOk(a, "notification:subscribe", { afterSeq: 0 });
  assert(Array.isArray(all.notifications), "notifications is not an array");
  eq(all.notifications.length, 3, "from the start (afterSeq 0): count");
  all.notifications.forEach((n, i) => sameNotification(n, posted[i], `from start [${i}]`));
  eq(all.unreadCount, 3, "unreadCount");
  const absent = await ackOk(a, "notification:subscribe", {});
  eq(absent.notifications.map((n) => n.seq), posted.map((n) => n.seq), "afterSeq absent = from the start");
  const newer = await ackOk(a, "notification:subscribe", { afterSeq: posted[0].seq });
  eq(newer.notifications.map((n) => n.seq), [posted[1].seq, posted[2].seq], "afterSeq = first seq");
  newer.notifications.forEach(notificationShape);
  const none = await ackOk(a, "notification:subscribe", { afterSeq: posted[2].seq });
  eq(none.notifications, [], "afterSeq = last seq");
  eq(none.unreadCount, 3, "unreadCount");
});

// A second desktop: subscribed to notifications only.
const B = connect({ token: TOKEN, client: "interop-check/2" });
const b = B.s;
await check("second client subscribes to notifications", async () => {
  await B.ready;
  const r = await ackOk(b, "notification:subscribe", { afterSeq: posted[2].seq });
  eq(r.notifications, [], "nothing newer");
});

await check("notification:new after POST /api/notifications, to every subscriber", async () => {
  const fa = a.seen.length;
  const fb = b.seen.length;
  const n = await api("POST", "/api/notifications", { title: "N4", body: "", severity: "error" }, 201);
  posted.push(n);
  sameNotification(await nextEvent(a, "notification:new", { from: fa }), n, "notification:new on A");
  sameNotification(await nextEvent(b, "notification:new", { from: fb }), n, "notification:new on B");
  eq(n.seq > posted[2].seq, true, "seq increases");
});

await check("notification:mark-read {ids}: ack unreadCount, notification:read to sender and others", async () => {
  const fa = a.seen.length;
  const fb = b.seen.length;
  const r = await ackOk(a, "notification:mark-read", { ids: [posted[0].id, "n-does-not-exist"] });
  eq(r.unreadCount, 3, "ack unreadCount");
  const ra = await nextEvent(a, "notification:read", { from: fa });
  const rb = await nextEvent(b, "notification:read", { from: fb });
  assert(ra.ids.includes(posted[0].id), `ids ${JSON.stringify(ra.ids)}`);
  eq(ra.unreadCount, 3, "notification:read unreadCount");
  eq(rb, ra, "both desktops told the same");
  const s = await ackOk(a, "notification:subscribe", { afterSeq: 0 });
  eq(s.notifications.map((n) => n.read), [true, false, false, false], "read flags after mark-read ids");
});

await check("notification:mark-read {all:true}: ack 0, notification:read to sender and others", async () => {
  const fa = a.seen.length;
  const fb = b.seen.length;
  const r = await ackOk(b, "notification:mark-read", { all: true });
  eq(r.unreadCount, 0, "ack unreadCount");
  const ra = await nextEvent(a, "notification:read", { from: fa });
  const rb = await nextEvent(b, "notification:read", { from: fb });
  eq(ra.unreadCount, 0, "notification:read unreadCount");
  eq([...ra.ids].sort(), posted.slice(1).map((n) => n.id).sort(), "ids marked by all");
  eq(rb, ra, "both desktops told the same");
  const s = await ackOk(a, "notification:subscribe", { afterSeq: 0 });
  eq(s.unreadCount, 0, "unreadCount after all");
  assert(s.notifications.every((n) => n.read === true), "every notification read");
});

await check("alert:system after POST /api/alerts, to every client (subscribed or not)", async () => {
  const C = connect({ token: TOKEN, client: "interop-check/3" });
  await C.ready;
  const fa = a.seen.length;
  const fb = b.seen.length;
  const fc = C.s.seen.length;
  const al = await api("POST", "/api/alerts", { title: "Intrusion attempt", message: "Blocked.", severity: "critical" }, 201);
  alertShape(al);
  for (const [name, s, from] of [["A", a, fa], ["B", b, fb], ["C (no subscriptions)", C.s, fc]]) {
    eq(await nextEvent(s, "alert:system", { from }), al, `alert:system on ${name}`);
  }
  C.s.disconnect();
});

await check("bad payloads get {ok:false, error} and change nothing", async () => {
  const big = "x".repeat(1024 * 1024 + 16); // over the 1 MiB contract limit, under 2 MiB
  const cases = [
    ["module:subscribe", { module: "payroll" }],
    ["module:subscribe", { module: 5 }],
    ["module:subscribe", {}],
    ["module:subscribe", "finance"],
    ["module:subscribe", [1, 2]],
    ["module:subscribe", null],
    ["module:subscribe"], // no payload at all, only the ack
    ["module:subscribe", { module: "finance", pad: big }],
    ["module:unsubscribe", { module: "payroll" }],
    ["module:unsubscribe", 42],
    ["dashboard:subscribe", "nope"],
    ["notification:subscribe", { afterSeq: "x" }],
    ["notification:subscribe", { afterSeq: -1 }],
    ["notification:subscribe", { afterSeq: 1.5 }],
    ["notification:subscribe", "x"],
    ["notification:mark-read", {}],
    ["notification:mark-read", { all: false }],
    ["notification:mark-read", { all: "yes" }],
    ["notification:mark-read", { ids: "n-1" }],
    ["notification:mark-read", { ids: [1, 2] }],
    ["notification:mark-read", { ids: [""] }],
    ["notification:mark-read", { ids: [posted[0].id], all: true }],
    ["notification:mark-read", { ids: Array.from({ length: 1001 }, (_, i) => `n-${i}`) }],
    ["notification:mark-read", null],
    ["notification:mark-read"],
  ];
  // Make something unread again, to see that refused mark-reads change nothing.
  const n = await api("POST", "/api/notifications", { title: "N5", body: "", severity: "info" }, 201);
  posted.push(n);
  await nextEvent(a, "notification:new", { pred: (p) => p?.id === n.id, from: 0 });
  const from = a.seen.length;
  for (const [event, ...payload] of cases) {
    await ackRefused(a, event, ...payload);
    assert(a.connected, `${event}: connection dropped after a bad payload`);
  }
  eq(a.seen.slice(from).filter((e) => e.event === "notification:read").length, 0, "notification:read after refused requests");
  const s = await ackOk(a, "notification:subscribe", { afterSeq: 0 });
  eq(s.unreadCount, 1, "unreadCount unchanged by refused requests");
});

await check("the connection stays usable after the bad payloads", async () => {
  assert(a.connected, "A disconnected");
  eq(a.io.engine.transport.name, TRANSPORT, "still on the same transport");
  const r = await ackOk(a, "module:subscribe", { module: "security" });
  moduleKpisShape(r.snapshot, "security");
  const from = a.seen.length;
  await api("PUT", "/api/kpis/security", kpiList(9), 200);
  eq((await nextEvent(a, "kpi:update:security", { from })).kpis[0].value, 9, "security value");
  const m = await ackOk(a, "notification:mark-read", { ids: [posted[4].id] });
  eq(m.unreadCount, 0, "mark-read after bad payloads");
  assert(b.connected, "B was disturbed by A's bad payloads");
});

for (const s of sockets) s.disconnect();
console.log(`PASS [${TRANSPORT}] ${checks} checks against ${URL_}`);
process.exit(0);
