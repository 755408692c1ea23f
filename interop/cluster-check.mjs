// A cluster seen by the official Node `socket.io-client` 4.8, driven by
// crates/server/tests/cluster.rs:
//
//   node interop/cluster-check.mjs --b URL_B --c URL_C
//
// One socket on node B and one on node C (the same viewer), each subscribed to
// notifications and the finance module; prints READY. The test then posts a
// notification, an alert and finance KPIs to node A over HTTP. Both sockets
// must receive all three; then the socket on C marks the notification read and
// the socket on B must receive `notification:read` for it. Prints
// `RESULT {...}`, or `FAIL <reason>` and exits 1.
import { parseArgs } from "node:util";
import { io } from "socket.io-client";

const { values: args } = parseArgs({
  options: {
    b: { type: "string" },
    c: { type: "string" },
    transport: { type: "string", default: "websocket" },
    deadline: { type: "string", default: "60000" },
  },
});
const sockets = [];
function fail(msg) {
  console.log(`FAIL ${msg}`);
  for (const s of sockets) s.disconnect();
  process.exit(1);
}
setTimeout(() => fail(`deadline of ${args.deadline} ms passed`), Number(args.deadline)).unref();

function open(url) {
  const s = io(url, { transports: [args.transport], forceNew: true, reconnection: false });
  sockets.push(s);
  s.on("connect_error", (e) => fail(`connect_error on ${url}: ${e.message}`));
  return s;
}
function once(s, event) {
  return new Promise((resolve) => s.once(event, resolve));
}
async function subscribed(s) {
  await once(s, "connect");
  const n = await s.timeout(20000).emitWithAck("notification:subscribe", { afterSeq: 0 });
  if (!n.ok) fail(`notification:subscribe: ${JSON.stringify(n)}`);
  const m = await s.timeout(20000).emitWithAck("module:subscribe", { module: "finance" });
  if (!m.ok) fail(`module:subscribe: ${JSON.stringify(m)}`);
}

const b = open(args.b);
const c = open(args.c);
await Promise.all([subscribed(b), subscribed(c)]);
const wanted = (s) =>
  Promise.all([once(s, "notification:new"), once(s, "alert:system"), once(s, "kpi:update:finance")]);
const onB = wanted(b);
const onC = wanted(c);
console.log("READY");
const [[nb, ab, kb], [nc, ac, kc]] = await Promise.all([onB, onC]);
if (nb.id !== nc.id) fail(`different notifications: ${nb.id} ${nc.id}`);
const readOnB = once(b, "notification:read");
const ack = await c.timeout(20000).emitWithAck("notification:mark-read", { ids: [nc.id] });
if (!ack.ok) fail(`mark-read: ${JSON.stringify(ack)}`);
const read = await readOnB;
if (!read.ids.includes(nb.id)) fail(`notification:read on B: ${JSON.stringify(read)}`);
console.log(
  `RESULT ${JSON.stringify({
    notification: [nb.title, nc.title],
    alert: [ab.title, ac.title],
    kpi: [kb.kpis[0].value, kc.kpis[0].value],
    readOnB: read,
  })}`,
);
for (const s of sockets) s.disconnect();
process.exit(0);
