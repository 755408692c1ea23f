// A small Pulseboard backend written with the official Node `socket.io` 4.8
// server, used by crates/core/tests/interop_node.rs to check that our client
// speaks the wire contract (shared/protocol.md) with the reference stack.
//
//   node interop/server.mjs [--port 0] [--token T] [--polling-only]
//                           [--garbage] [--state FILE]
//
// Prints `LISTENING <port>` on stdout once it accepts connections; logs go to
// stderr. Environment fallbacks: PORT, TOKEN, STATE.
//
// Besides Socket.IO (default namespace, path /socket.io/) the same HTTP server
// answers a tiny control API for tests (no auth, bound to 127.0.0.1):
//   POST /control/notify    {title, body?, severity?, module?} -> 201 Notification
//   POST /control/kpi       {module, value}                    -> 200 ModuleKpis
//   POST /control/dashboard {value}                            -> 200 Dashboard
//   POST /control/alert     {title, message?, severity?}       -> 201 Alert
//   GET  /control/garbage   -> the malformed events `--garbage` sends
import { createServer } from "node:http";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Server } from "socket.io";

const { values: args } = parseArgs({
  options: {
    port: { type: "string" },
    token: { type: "string" },
    "polling-only": { type: "boolean", default: false },
    garbage: { type: "boolean", default: false },
    state: { type: "string" },
  },
});
const PORT = Number(args.port ?? process.env.PORT ?? 0);
const TOKEN = args.token ?? process.env.TOKEN; // undefined: open server
const STATE = args.state ?? process.env.STATE;
const VERSION = "interop-node/socket.io-4.8";

const MODULES = ["reports", "finance", "hr", "security"];
const NOTIFICATION_SEVERITIES = ["info", "success", "warning", "error"];
const ALERT_SEVERITIES = ["info", "warning", "critical"];
const MAX_PAYLOAD = 1024 * 1024;
const MAX_CATCH_UP = 500;
const MAX_IDS = 1000;

const log = (...a) => console.error("[interop-server]", ...a);

// ------------------------------------------------------------ time and state

// Every change gets a later `updatedAt` (the client ignores repeats).
let lastStamp = 0;
function stamp() {
  lastStamp = Math.max(Date.now(), lastStamp + 1);
  return new Date(lastStamp).toISOString();
}

let state = { lastSeq: 0, lastAlert: 0, notifications: [] };
if (STATE) {
  try {
    state = { ...state, ...JSON.parse(readFileSync(STATE, "utf8")) };
    log(`loaded ${state.notifications.length} notifications from ${STATE}, lastSeq ${state.lastSeq}`);
  } catch (e) {
    if (e.code !== "ENOENT") throw e;
  }
}
// Stored before anything is broadcast, synchronously, so a SIGKILL right after
// a broadcast cannot lose what was sent.
function persist() {
  if (!STATE) return;
  const tmp = `${STATE}.tmp`;
  writeFileSync(tmp, JSON.stringify(state));
  renameSync(tmp, STATE);
}

const kpi = (key, label, value, unit) => ({ key, label, value, ...(unit ? { unit } : {}), delta: 0, status: "ok" });
const SEED = {
  reports: [kpi("reports_generated", "Reports generated", 1240), kpi("scheduled", "Scheduled reports", 36)],
  finance: [kpi("revenue", "Revenue", 1234.5, "USD"), kpi("profit_margin", "Profit margin", 33.6, "%")],
  hr: [kpi("headcount", "Headcount", 482), kpi("satisfaction", "Employee satisfaction", 4.1, "/5")],
  security: [kpi("open_incidents", "Open incidents", 3), kpi("threats_blocked", "Threats blocked", 1873)],
};
const modules = Object.fromEntries(MODULES.map((m) => [m, { module: m, kpis: SEED[m], updatedAt: stamp() }]));

function makeDashboard(v) {
  return {
    summary: [
      kpi("total_revenue", "Total revenue", 1284500 + v, "USD"),
      kpi("active_users", "Active users", 12480 + v),
      kpi("reports_generated", "Reports generated", 1240 + v),
      kpi("headcount", "Headcount", 482 + v),
      kpi("open_incidents", "Open incidents", 3 + v),
      kpi("compliance", "Compliance", 96.2, "%"),
    ],
    topKpis: [
      kpi("profit_margin", "Profit margin", 32.9, "%"),
      kpi("satisfaction", "Employee satisfaction", 4.1, "/5"),
      kpi("threats_blocked", "Threats blocked", 1873 + v),
      kpi("cash_flow", "Cash flow", 214800 + v, "USD"),
    ],
    updatedAt: stamp(),
  };
}
let dashboard = makeDashboard(0);

const unread = () => state.notifications.filter((n) => !n.read).length;

// Malformed events for `--garbage`: each one must be dropped by a client.
const TS = "2026-11-25T10:00:00Z";
const GARBAGE = [
  // name/module mismatch, unknown module, non-object, wrong types
  ["kpi:update:finance", { module: "hr", kpis: [], updatedAt: TS }],
  ["kpi:update:payroll", { module: "payroll", kpis: [], updatedAt: TS }],
  ["kpi:update:finance", "not an object"],
  ["kpi:update:finance", { module: "finance", kpis: [{ key: "k", label: "K", value: "12" }], updatedAt: TS }],
  ["kpi:update:finance", { module: "finance", kpis: [], updatedAt: "yesterday" }],
  // missing fields
  ["notification:new", { id: "n-999" }],
  ["notification:new", { id: "n-998", seq: 998, title: 5, body: "", severity: "info", createdAt: TS }],
  ["notification:new", { id: "n-997", seq: "997", title: "t", body: "", severity: "info", createdAt: TS }],
  ["notification:new", { id: "n-996", seq: 996, title: "t", body: "", severity: "fatal", createdAt: TS }],
  ["notification:new", 42],
  ["alert:system", { id: "a-x", severity: "apocalyptic", title: "t", message: "m", createdAt: TS }],
  ["alert:system", { id: "a-y", severity: "info", message: "no title", createdAt: TS }],
  ["alert:system", null],
  ["dashboard:update", [1, 2, 3]],
  ["dashboard:update", { summary: [], topKpis: [], updatedAt: TS }],
  ["notification:read", { ids: "n-1", unreadCount: -1 }],
  ["connection:status", { status: "connected", serverTime: TS, serverVersion: "x", modules: ["payroll"] }],
  ["what:ever", {}],
];
const AFTER_GARBAGE = {
  id: "a-after-garbage",
  severity: "critical",
  title: "After garbage",
  message: "The one valid alert after the malformed events.",
};

// ------------------------------------------------------------ producers

function putKpi(module, value) {
  const [first, ...rest] = modules[module].kpis;
  modules[module] = { module, kpis: [{ ...first, value }, ...rest], updatedAt: stamp() };
  io.to(`module:${module}`).emit(`kpi:update:${module}`, modules[module]);
  return modules[module];
}

function putDashboard(value) {
  dashboard = makeDashboard(value);
  io.to("dashboard").emit("dashboard:update", dashboard);
  return dashboard;
}

function addNotification({ title, body = "", severity = "info", module }) {
  const seq = ++state.lastSeq;
  const n = {
    id: `n-${seq}`,
    seq,
    title,
    body,
    severity,
    ...(module ? { module } : {}),
    createdAt: new Date().toISOString(),
    read: false,
  };
  state.notifications.push(n);
  persist(); // store first...
  io.to("notifications").emit("notification:new", n); // ...then broadcast
  return n;
}

function raiseAlert({ title, message = "", severity = "info" }) {
  const a = { id: `a-${++state.lastAlert}`, severity, title, message, createdAt: new Date().toISOString() };
  persist(); // alert ids stay unique across restarts
  io.emit("alert:system", a);
  return a;
}

// ------------------------------------------------------------ validation

class Refused extends Error {}
const refuse = (msg) => {
  throw new Refused(msg);
};
const isObject = (p) => p !== null && typeof p === "object" && !Array.isArray(p);
function objectPayload(p) {
  if (!isObject(p)) refuse(`expected a JSON object, got ${Array.isArray(p) ? "an array" : typeof p}`);
  if (JSON.stringify(p).length > MAX_PAYLOAD) refuse(`payload is larger than ${MAX_PAYLOAD} bytes`);
  return p;
}
function moduleOf(p) {
  const m = objectPayload(p).module;
  if (!MODULES.includes(m)) refuse(`unknown module ${JSON.stringify(m)}, expected one of ${MODULES.join(", ")}`);
  return m;
}

// ------------------------------------------------------------ HTTP control API

async function readJson(req) {
  let body = "";
  for await (const chunk of req) {
    body += chunk;
    if (body.length > MAX_PAYLOAD) throw new Refused("body too large");
  }
  return body ? JSON.parse(body) : {};
}

async function control(req, res) {
  const reply = (code, v) => {
    res.writeHead(code, { "content-type": "application/json" });
    res.end(JSON.stringify(v));
  };
  try {
    const route = `${req.method} ${new URL(req.url, "http://x").pathname}`;
    if (route === "GET /healthz") return reply(200, { status: "ok" });
    if (route === "GET /control/garbage") return reply(200, GARBAGE.map(([event, payload]) => ({ event, payload })));
    if (req.method !== "POST") return reply(404, { error: "not found" });
    const b = await readJson(req);
    switch (route) {
      case "POST /control/notify": {
        if (typeof b.title !== "string" || !b.title.trim()) refuse("`title` is required");
        if (b.severity !== undefined && !NOTIFICATION_SEVERITIES.includes(b.severity)) refuse("bad severity");
        if (b.module !== undefined && !MODULES.includes(b.module)) refuse("bad module");
        return reply(201, addNotification(b));
      }
      case "POST /control/kpi": {
        const m = moduleOf(b);
        if (typeof b.value !== "number" || !Number.isFinite(b.value)) refuse("`value` must be a finite number");
        return reply(200, putKpi(m, b.value));
      }
      case "POST /control/dashboard":
        return reply(200, putDashboard(Number(b.value ?? 0)));
      case "POST /control/alert": {
        if (typeof b.title !== "string" || !b.title.trim()) refuse("`title` is required");
        if (b.severity !== undefined && !ALERT_SEVERITIES.includes(b.severity)) refuse("bad severity");
        return reply(201, raiseAlert(b));
      }
      default:
        return reply(404, { error: "not found" });
    }
  } catch (e) {
    if (e instanceof Refused || e instanceof SyntaxError) return reply(400, { error: e.message });
    log("control error", e);
    return reply(500, { error: String(e) });
  }
}

// ------------------------------------------------------------ Socket.IO

const http = createServer(control);
const io = new Server(http, {
  path: "/socket.io/",
  transports: args["polling-only"] ? ["polling"] : ["polling", "websocket"],
  maxHttpBufferSize: 2 * 1024 * 1024,
  serveClient: false,
});

io.use((socket, next) => {
  if (!TOKEN || socket.handshake.auth?.token === TOKEN) return next();
  next(new Error("unauthorized"));
});

io.on("connection", (socket) => {
  socket.emit("connection:status", {
    status: "connected",
    serverTime: new Date().toISOString(),
    serverVersion: VERSION,
    modules: MODULES,
  });
  let garbageSent = false;

  // Every handler acks, also on error; the payload may be missing (ack first).
  const on = (event, fn) =>
    socket.on(event, (...a) => {
      const ack = typeof a[a.length - 1] === "function" ? a.pop() : undefined;
      const p = a.length ? a[0] : {};
      let answer;
      try {
        answer = fn(p);
      } catch (e) {
        if (!(e instanceof Refused)) log(`${event} failed`, e);
        answer = { ok: false, error: String(e.message ?? e) };
      }
      if (ack) ack(answer);
      return answer;
    });

  on("module:subscribe", (p) => {
    const m = moduleOf(p);
    socket.join(`module:${m}`);
    return { ok: true, snapshot: modules[m] };
  });
  on("module:unsubscribe", (p) => {
    socket.leave(`module:${moduleOf(p)}`);
    return { ok: true };
  });
  on("dashboard:subscribe", (p) => {
    objectPayload(p);
    socket.join("dashboard");
    return { ok: true, snapshot: dashboard };
  });
  socket.on("notification:subscribe", (...a) => {
    const ack = typeof a[a.length - 1] === "function" ? a.pop() : undefined;
    let answer;
    try {
      const p = objectPayload(a.length ? a[0] : {});
      const after = p.afterSeq ?? 0;
      if (!Number.isSafeInteger(after) || after < 0) refuse("`afterSeq` must be a non-negative integer");
      socket.join("notifications");
      answer = {
        ok: true,
        notifications: state.notifications.filter((n) => n.seq > after).slice(0, MAX_CATCH_UP), // oldest first
        unreadCount: unread(),
      };
    } catch (e) {
      answer = { ok: false, error: String(e.message ?? e) };
    }
    if (ack) ack(answer);
    if (args.garbage && answer.ok && !garbageSent) {
      garbageSent = true;
      for (const [event, payload] of GARBAGE) socket.emit(event, payload);
      socket.emit("alert:system", { ...AFTER_GARBAGE, createdAt: new Date().toISOString() });
    }
  });
  on("notification:mark-read", (p) => {
    objectPayload(p);
    const hasIds = p.ids !== undefined;
    const all = p.all === true;
    if (hasIds && all) refuse("give either `ids` or `all: true`, not both");
    if (!hasIds && !all) refuse("expected `ids` (an array) or `all: true`");
    if (p.all !== undefined && typeof p.all !== "boolean") refuse("`all` must be a boolean");
    let hit;
    if (all) {
      hit = state.notifications;
    } else {
      if (!Array.isArray(p.ids)) refuse("`ids` must be an array");
      if (p.ids.length > MAX_IDS) refuse(`at most ${MAX_IDS} ids`);
      if (!p.ids.every((id) => typeof id === "string" && id.trim() && id.length <= 128)) {
        refuse("every id must be a non-blank string of at most 128 characters");
      }
      hit = state.notifications.filter((n) => p.ids.includes(n.id));
    }
    const changed = hit.filter((n) => !n.read);
    changed.forEach((n) => {
      n.read = true;
    });
    if (changed.length) {
      persist();
      io.to("notifications").emit("notification:read", { ids: changed.map((n) => n.id), unreadCount: unread() });
    }
    return { ok: true, unreadCount: unread() };
  });
});

for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => {
    io.close();
    process.exit(0);
  });
}

http.listen(PORT, "127.0.0.1", () => {
  process.stdout.write(`LISTENING ${http.address().port}\n`);
  log(`listening on 127.0.0.1:${http.address().port}${TOKEN ? " (token required)" : ""}`
    + `${args["polling-only"] ? " (polling only)" : ""}${args.garbage ? " (garbage mode)" : ""}`);
});
