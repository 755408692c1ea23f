// Sync checks of a Pulseboard server with the official Node `socket.io-client` 4.8,
// driven by crates/server/tests/sync.rs. One mode per run; prints one JSON
// summary line starting with `RESULT ` (and `READY` when a mode waits for the
// test to act); exits 1 with `FAIL <reason>` on failure.
//
//   node interop/sync-check.mjs burst   --url U --count 500 --transport websocket
//       N sockets at once; each emits notification:subscribe and module:subscribe
//       the moment it is connected: every ack must arrive.
//   node interop/sync-check.mjs slow    --url U --count 300 --slow-ms 5 --transport polling
//       one subscriber that is slow to process events; prints READY once
//       subscribed, then collects notifications (live and by catch-up after a
//       server disconnect) until it holds --count distinct ones.
//   node interop/sync-check.mjs viewers --url U
//       per-viewer read state over sockets (server with view tokens alice=alice and bob=bob: the
//       handshake token names the viewer); expects notifications n-1..n-3.
//   node interop/sync-check.mjs ack     --url U --event E --payload JSON
//       one event, prints its ack.
import { parseArgs } from "node:util";
import { io } from "socket.io-client";

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: "string" },
    token: { type: "string", default: "" },
    transport: { type: "string", default: "websocket" },
    count: { type: "string", default: "300" },
    "slow-ms": { type: "string", default: "0" },
    event: { type: "string" },
    payload: { type: "string", default: "{}" },
    timeout: { type: "string", default: "20000" },
    deadline: { type: "string", default: "60000" },
  },
});
const mode = positionals[0];
const URL_ = (args.url ?? "").replace(/\/$/, "");
const T = Number(args.timeout);
const sockets = [];

function fail(msg) {
  console.log(`FAIL ${mode}: ${msg}`);
  for (const s of sockets) s.disconnect();
  process.exit(1);
}
function done(result) {
  console.log(`RESULT ${JSON.stringify(result)}`);
  for (const s of sockets) s.disconnect();
  process.exit(0);
}
function assert(cond, msg) {
  if (!cond) fail(msg);
}
setTimeout(() => fail(`overall deadline of ${args.deadline} ms passed`), Number(args.deadline)).unref();

function open(token, extra = {}) {
  const s = io(URL_, {
    transports: [args.transport],
    upgrade: false,
    forceNew: true,
    reconnection: false,
    timeout: T,
    auth: { token, client: "pulseboard-sync-check/0" },
    ...extra,
  });
  sockets.push(s);
  s.seen = [];
  s.onAny((event, ...payload) => s.seen.push({ event, payload }));
  return s;
}
const connected = (s) =>
  new Promise((resolve, reject) => {
    if (s.connected) return resolve();
    s.once("connect", resolve);
    s.once("connect_error", (e) => reject(new Error(`connect_error: ${e.message}`)));
  });
async function ack(s, event, payload) {
  try {
    return await s.timeout(T).emitWithAck(event, payload);
  } catch (e) {
    fail(`${event}: no ack within ${T} ms (${e.message})`);
  }
}

// ------------------------------------------------------------ burst
async function burst() {
  const n = Number(args.count);
  let acked = 0;
  let missing = 0;
  const all = [];
  for (let i = 0; i < n; i++) {
    const s = open(args.token);
    all.push(
      new Promise((resolve) => {
        s.once("connect_error", (e) => {
          missing += 2;
          resolve(`connect_error ${e.message}`);
        });
        s.once("connect", () => {
          // Emitted in the connect callback: the server must already listen.
          const want = [
            s.timeout(T).emitWithAck("notification:subscribe", { afterSeq: 0 }),
            s.timeout(T).emitWithAck("module:subscribe", { module: "finance" }),
          ];
          Promise.allSettled(want).then((rs) => {
            for (const r of rs) {
              if (r.status === "fulfilled" && r.value && r.value.ok === true) acked += 1;
              else missing += 1;
            }
            resolve();
          });
        });
      }),
    );
  }
  await Promise.all(all);
  done({ sockets: n, acked, missing });
}

// ------------------------------------------------------------ slow
async function slow() {
  const want = Number(args.count);
  const slowMs = Number(args["slow-ms"]);
  const counts = new Map(); // seq -> times received
  let cursor = 0;
  let serverDisconnects = 0;
  let connects = 0;
  let ready = false;
  const s = open(args.token, { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 500 });
  const take = (n) => {
    counts.set(n.seq, (counts.get(n.seq) ?? 0) + 1);
    if (n.seq > cursor) cursor = n.seq;
  };
  const check = () => {
    if (counts.size >= want) {
      const seqs = [...counts.keys()].sort((a, b) => a - b);
      done({
        distinct: counts.size,
        deliveredTwice: [...counts.values()].filter((c) => c > 1).length,
        first: seqs[0],
        last: seqs[seqs.length - 1],
        serverDisconnects,
        connects,
      });
    }
  };
  s.on("notification:new", (n) => {
    const until = Date.now() + slowMs;
    while (Date.now() < until) {
      // A slow client: busy, so it polls less often than the server sends.
    }
    take(n);
    check();
  });
  s.on("disconnect", (reason) => {
    if (reason === "io server disconnect") {
      // The server dropped us (buffer full): reconnect and catch up.
      serverDisconnects += 1;
      s.connect();
    }
  });
  s.on("connect", async () => {
    connects += 1;
    // Catch up page by page until a page is not full.
    for (;;) {
      const a = await ack(s, "notification:subscribe", { afterSeq: cursor });
      assert(a && a.ok === true, `subscribe refused: ${JSON.stringify(a)}`);
      assert(a.notifications.length <= 500, `page of ${a.notifications.length} > 500`);
      const before = cursor;
      a.notifications.forEach(take);
      if (a.notifications.length < 500 || cursor === before) break;
    }
    if (!ready) {
      ready = true;
      console.log("READY");
    }
    check();
  });
}

// ------------------------------------------------------------ viewers
async function viewers() {
  const alice1 = open("alice");
  const alice2 = open("alice");
  const bob = open("bob");
  await Promise.all([alice1, alice2, bob].map(connected));
  const ids = ["n-1", "n-2", "n-3"];
  const sub = (s, extra = {}) => ack(s, "notification:subscribe", { afterSeq: 0, ...extra });

  let [a1, a2, b] = await Promise.all([sub(alice1), sub(alice2), sub(bob)]);
  for (const [name, a] of [["alice1", a1], ["alice2", a2], ["bob", b]]) {
    assert(a.ok === true && a.unreadCount === 3, `${name} starts with 3 unread: ${JSON.stringify(a)}`);
    assert(a.notifications.every((n) => n.read === false), `${name}: all unread at first`);
  }

  const bobSeenBefore = bob.seen.length;
  const m = await ack(alice1, "notification:mark-read", { ids: ["n-1"] });
  assert(m.ok === true && m.unreadCount === 2, `alice's mark-read ack: ${JSON.stringify(m)}`);
  // alice2 hears of it.
  const heard = await new Promise((resolve) => {
    const find = () => alice2.seen.find((e) => e.event === "notification:read");
    if (find()) return resolve(find().payload[0]);
    const timer = setTimeout(() => resolve(null), T);
    alice2.onAny(() => {
      if (find()) {
        clearTimeout(timer);
        resolve(find().payload[0]);
      }
    });
  });
  assert(heard, "alice's second desktop got no notification:read");
  assert(JSON.stringify(heard) === JSON.stringify({ ids: ["n-1"], unreadCount: 2 }), `alice2 heard ${JSON.stringify(heard)}`);
  // Anything sent to bob for that mark-read was queued before this ack.
  b = await sub(bob, { unread: ids });
  const bobRead = bob.seen.slice(bobSeenBefore).filter((e) => e.event === "notification:read");
  assert(bobRead.length === 0, `bob got alice's read state: ${JSON.stringify(bobRead)}`);
  assert(b.unreadCount === 3, `bob still has 3 unread: ${JSON.stringify(b)}`);
  assert(JSON.stringify(b.read) === "[]", `bob: none of his are read: ${JSON.stringify(b.read)}`);

  // alice2 catches up read state from the server, as after a restart.
  a2 = await sub(alice2, { unread: ids });
  assert(a2.unreadCount === 2, `alice2 unread count: ${JSON.stringify(a2)}`);
  assert(JSON.stringify(a2.read) === JSON.stringify(["n-1"]), `alice2 read catch-up: ${JSON.stringify(a2.read)}`);
  assert(a2.notifications.find((n) => n.id === "n-1").read === true, "n-1 listed read for alice");
  b = await sub(bob);
  assert(b.read === undefined, "no `read` when no `unread` was sent");
  assert(b.notifications.find((n) => n.id === "n-1").read === false, "n-1 listed unread for bob");

  // bob marks all read: alice's state does not move.
  const ma = await ack(bob, "notification:mark-read", { all: true });
  assert(ma.ok === true && ma.unreadCount === 0, `bob mark-all: ${JSON.stringify(ma)}`);
  a1 = await sub(alice1, { unread: ["n-2", "n-3"] });
  assert(a1.unreadCount === 2 && JSON.stringify(a1.read) === "[]", `alice after bob's mark-all: ${JSON.stringify(a1)}`);

  const status = [alice1, alice2, bob].map((s) => s.seen.find((e) => e.event === "connection:status")?.payload[0]);
  assert(status.every((st) => st && /^[0-9a-f]{32}$/.test(st.serverId)), `serverId in connection:status: ${JSON.stringify(status)}`);
  assert(new Set(status.map((st) => st.serverId)).size === 1, "one serverId");
  done({ serverId: status[0].serverId });
}

// ------------------------------------------------------------ ack
async function oneAck() {
  const s = open(args.token);
  await connected(s).catch((e) => fail(e.message));
  const a = await ack(s, args.event, JSON.parse(args.payload));
  const status = s.seen.find((e) => e.event === "connection:status")?.payload[0];
  done({ ack: a, serverId: status?.serverId ?? null });
}

const modes = { burst, slow, viewers, ack: oneAck };
if (!URL_ || !modes[mode]) {
  console.error("usage: sync-check.mjs burst|slow|viewers|ack --url URL [options]");
  process.exit(2);
}
modes[mode]().catch((e) => fail(e?.stack ?? String(e)));
