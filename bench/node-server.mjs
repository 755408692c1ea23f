// Reference server for the fan-out benchmark: the official Node `socket.io`
// 4.8 server (installed in interop/node_modules by `npm ci --prefix interop`)
// speaking the part of the Pulseboard contract the benchmark uses:
//
//   module:subscribe {"module": "finance"}  -> ack {"ok": true, "snapshot": ModuleKpis}
//   PUT /api/kpis/{module} {"kpis": [...]}   -> 200 ModuleKpis, and
//        kpi:update:{module} ModuleKpis to the room `module:{module}`
//   GET /healthz                             -> {"status": "ok"}
//
//   node bench/node-server.mjs [--port 0]
//
// Prints `LISTENING <port>` on stdout once it accepts connections.
// Same defaults as pulseboard-server where they matter: websocket without
// compression, ping every 25 s, no token.
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { parseArgs } from "node:util";

// socket.io lives in interop/node_modules; resolve it from there.
const require = createRequire(new URL("../interop/package.json", import.meta.url));
const { Server } = require("socket.io");

const { values: args } = parseArgs({ options: { port: { type: "string" } } });
const PORT = Number(args.port ?? process.env.PORT ?? 0);
const MODULES = ["reports", "finance", "hr", "security"];
const MAX_BODY = 1024 * 1024;

const modules = Object.fromEntries(
  MODULES.map((m) => [m, { module: m, kpis: [], updatedAt: new Date().toISOString() }]),
);

function validKpi(k) {
  return (
    k !== null && typeof k === "object" &&
    typeof k.key === "string" && k.key.trim() && k.key.length <= 64 &&
    typeof k.label === "string" && k.label.trim() && k.label.length <= 200 &&
    typeof k.value === "number" && Number.isFinite(k.value)
  );
}

async function handler(req, res) {
  const reply = (code, v) => {
    res.writeHead(code, { "content-type": "application/json" });
    res.end(JSON.stringify(v));
  };
  const url = new URL(req.url, "http://x");
  if (req.method === "GET" && url.pathname === "/healthz") return reply(200, { status: "ok" });
  const m = url.pathname.match(/^\/api\/kpis\/([a-z]+)$/);
  if (req.method !== "PUT" || !m) return reply(404, { error: "not found" });
  if (!MODULES.includes(m[1])) return reply(404, { error: "unknown module" });
  let body = "";
  for await (const chunk of req) {
    body += chunk;
    if (body.length > MAX_BODY) return reply(413, { error: "body too large" });
  }
  let b;
  try {
    b = JSON.parse(body);
  } catch (e) {
    return reply(400, { error: e.message });
  }
  if (!Array.isArray(b?.kpis) || b.kpis.length > 50 || !b.kpis.every(validKpi)) {
    return reply(400, { error: "invalid kpis" });
  }
  const next = { module: m[1], kpis: b.kpis, updatedAt: new Date().toISOString() };
  modules[m[1]] = next;
  io.to(`module:${m[1]}`).emit(`kpi:update:${m[1]}`, next);
  return reply(200, next);
}

const http = createServer(handler);
const io = new Server(http, { path: "/socket.io/", serveClient: false });

io.on("connection", (socket) => {
  socket.emit("connection:status", {
    status: "connected",
    serverTime: new Date().toISOString(),
    serverVersion: "bench-node/socket.io-4.8",
    modules: MODULES,
  });
  socket.on("module:subscribe", (p, ack) => {
    if (typeof ack !== "function") return;
    const mod = p?.module;
    if (!MODULES.includes(mod)) return ack({ ok: false, error: `unknown module ${JSON.stringify(mod)}` });
    socket.join(`module:${mod}`);
    ack({ ok: true, snapshot: modules[mod] });
  });
  socket.on("module:unsubscribe", (p, ack) => {
    if (MODULES.includes(p?.module)) socket.leave(`module:${p.module}`);
    if (typeof ack === "function") ack({ ok: true });
  });
});

for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));

http.listen(PORT, "127.0.0.1", () => {
  process.stdout.write(`LISTENING ${http.address().port}\n`);
});
