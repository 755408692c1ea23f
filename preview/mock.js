// In-memory stand-in for the Rust shell, used only when `window.__TAURI__` is
// absent (a plain browser: previews, screenshots). Browser preview only: it
// lives outside ui/, so the app never ships it (see ui/README.md, "Preview").
// The demo KPIs come from seed.json, generated from the seed table in
// crates/protocol/src/seed.rs (the desktop's demo data and the server's
// simulator use the same table). Scenario via the query string:
//   ?mock=demo (default) | live | cache | offline | unauthorized | connecting | flood
//        | finance10 | bursts | idle
// `flood` is `live` plus 1000 events per second, to check the window keeps up.
// `finance10` is `live` with one finance update every 100 ms and nothing else
// (issue #12's load), `bursts` all four modules every 400 ms (the server's
// simulator in the desktop benchmark), `idle` no update at all (only the
// clock texts move, once a minute): for bench/webkit/run.sh.

const SEED = await fetch(new URL('./seed.json', import.meta.url)).then((r) => {
  if (!r.ok) throw new Error(`preview/seed.json: HTTP ${r.status}`);
  return r.json();
});

// Small deterministic PRNG so screenshots are stable.
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function iso(ms) {
  return new Date(ms).toISOString();
}

/** `v` within the seed table's walk range of `key`, rounded to its decimals. */
function settle(key, v) {
  const w = SEED.walk[key];
  if (!w) return Math.round(v * 100) / 100;
  const f = 10 ** w.decimals;
  return Math.round(Math.min(w.max, Math.max(w.min, v)) * f) / f;
}

function walk(rand, base, key, n) {
  const out = [];
  let v = base * (0.92 + rand() * 0.04);
  for (let i = 0; i < n; i += 1) {
    v = v * (1 + (rand() - 0.46) * 0.03);
    out.push(settle(key, v));
  }
  out[out.length - 1] = base;
  return out;
}

/** `kpi_history`'s ranges: span and bucket in seconds (pulseboard_protocol::HistoryRange). */
const HISTORY_RANGES = {
  '1h': { span: 3600, bucket: 20, words: '1 h' },
  '24h': { span: 24 * 3600, bucket: 300, words: '24 h' },
  '7d': { span: 7 * 24 * 3600, bucket: 1800, words: '7 d' },
};

/**
 * `n` values ending at `end`, walked backwards from it (no jump at the end
 * however long the walk), within the seed table's walk range of `key`.
 */
function walkBack(rand, end, key, n) {
  const w = SEED.walk[key];
  const out = new Array(n);
  let v = end;
  for (let i = n - 1; i >= 0; i -= 1) {
    out[i] = i === n - 1 ? end : settle(key, v);
    v *= 1 + (rand() - 0.5) * 0.012;
    if (w) v = Math.min(w.max, Math.max(w.min, v));
  }
  return out;
}

/** The seed KPI `k` at `value`, with its change against `prev` (status as seeded). */
function kpi(k, value, prev) {
  const delta = prev ? Math.round(((value - prev) / Math.abs(prev || 1)) * 1000) / 10 : 0;
  return { ...k, value, delta };
}

function scenario() {
  try {
    return new URLSearchParams(window.location.search).get('mock') || 'demo';
  } catch {
    return 'demo';
  }
}

export function createMockBackend() {
  const rand = rng(42);
  const mode = scenario();
  const start = Date.now();
  const listeners = new Map();
  let seq = 0;

  const modules = {};
  const moduleCount = Object.keys(SEED.modules).length;
  for (const [m, seeded] of Object.entries(SEED.modules)) {
    const history = {};
    const historyAt = {};
    const kpis = seeded.map((k) => {
      history[k.key] = walk(rand, k.value, k.key, 40);
      // One module moves per second: each saw an update every few seconds.
      historyAt[k.key] = history[k.key].map((_, i) => iso(start - 4000 - (39 - i) * moduleCount * 1000));
      const h = history[k.key];
      return kpi(k, k.value, h[h.length - 8]);
    });
    modules[m] = { latest: { module: m, kpis, updatedAt: iso(start - 4000) }, history, historyAt };
  }
  // A tile of a module's KPI shows the module's KPI (one value in both places).
  const tile = (k, own) => {
    const m = SEED.walk[k.key] && SEED.walk[k.key].module;
    const shared = m && modules[m] && modules[m].latest.kpis.find((x) => x.key === k.key);
    return shared ? { ...shared } : own(k);
  };
  const dashboard = {
    summary: SEED.dashboard.summary.map((k) => tile(k, () => kpi(k, k.value, k.value * (1 - (rand() - 0.4) * 0.05)))),
    topKpis: SEED.dashboard.topKpis.map((k) => tile(k, () => kpi(k, k.value, k.value * (1 - (rand() - 0.5) * 0.08)))),
    updatedAt: iso(start - 9000),
  };

  // The dashboard's sparklines (Rust keeps them in its store).
  const dashboardHistory = {};
  const notifications = [];
  const seedNotes = [
    ['Nightly reports ready', 'All 12 scheduled reports were generated.', 'success', 'reports', true],
    ['Invoice batch delayed', 'The ACME invoice batch is 2 hours late.', 'warning', 'finance', true],
    ['New hire onboarding', '3 people start on Monday; laptops are ready.', 'info', 'hr', false],
    ['Payment gateway errors', 'Card payments failed 14 times in 5 minutes.', 'error', 'finance', false],
    ['Suspicious sign-in blocked', 'Blocked a sign-in from an unrecognised device (admin@).', 'warning', 'security', false],
  ];
  for (const [title, body, severity, module, read] of seedNotes) {
    seq += 1;
    notifications.push({
      id: `n-${seq}`,
      seq,
      title,
      body,
      severity,
      module,
      createdAt: iso(start - (seedNotes.length - seq + 1) * 7 * 60000),
      read,
    });
  }
  const alerts = [
    {
      id: 'a-0',
      severity: 'info',
      title: 'Maintenance window tonight 22:00-23:00',
      message: 'The reporting service restarts once during the window.',
      createdAt: iso(start - 5 * 3600000),
    },
    {
      id: 'a-2',
      severity: 'warning',
      title: 'Certificate expires in 9 days',
      message: 'The TLS certificate of pulse.example.com expires soon.',
      createdAt: iso(start - 3600000),
    },
    {
      id: 'a-1',
      severity: 'critical',
      title: 'Database replica lag above 30 s',
      message: 'Reporting queries may return stale results until the replica catches up.',
      createdAt: iso(start - 90000),
    },
  ];
  let acknowledged = [];

  let connection;
  let source = { kind: 'demo' };
  let attempt = 2;
  const retryIn = (s) => iso(Date.now() + s * 1000);
  switch (mode) {
    case 'finance10':
    case 'bursts':
    case 'live':
    case 'flood':
    case 'idle':
      connection = { state: 'live', since: iso(start - 3600000), transport: 'websocket' };
      source = { kind: 'server' };
      break;
    case 'cache':
      connection = { state: 'offline', since: iso(start - 600000), attempt: 7, nextRetryAt: retryIn(30), reason: 'connection refused' };
      source = { kind: 'cache', savedAt: iso(start - 25 * 60000) };
      break;
    case 'offline':
      connection = { state: 'offline', since: iso(start - 600000), attempt: 7, nextRetryAt: retryIn(30), reason: 'connection refused' };
      break;
    case 'unauthorized':
      connection = { state: 'unauthorized', message: 'unauthorized' };
      break;
    case 'connecting':
      connection = { state: 'connecting', server: 'http://127.0.0.1:4000' };
      break;
    default:
      connection = { state: 'reconnecting', attempt, nextRetryAt: retryIn(8), reason: 'connection refused' };
  }

  let settings = {
    server: 'http://127.0.0.1:4000',
    hasToken: false,
    dnd: 'off',
    notifyThreshold: 'warning',
    startAtLogin: false,
  };

  const unread = () => notifications.filter((n) => !n.read).length;
  const emit = (name, payload) => {
    for (const cb of listeners.get(name) || []) cb({ payload });
  };
  let sent = 0;
  const update = (payload) => {
    sent += 1;
    emit('pb:update', payload);
  };
  const clone = (v) => JSON.parse(JSON.stringify(v));
  // What Rust's bridge sends when its notification list changed.
  const notes = (added, read) => ({
    type: 'notifications',
    added: clone(added),
    read,
    keepFrom: notifications.length ? notifications[0].seq : seq + 1,
    unread: unread(),
  });
  // The preview has no Rust to word the connection: a stand-in that names
  // the state (the real words come from pulseboard_core::view).
  const previewView = () => ({
    text: `Preview · ${connection.state}`,
    tone: { live: 'live', reconnecting: 'warn', connecting: 'neutral' }[connection.state] || 'error',
    detail: 'Browser preview: no Rust shell',
    stale: ['offline', 'unauthorized', 'certificate'].includes(connection.state),
    counting: false,
  });
  const sendConnection = () => {
    update({ type: 'connection', state: clone(connection) });
    update({ type: 'connection-view', view: previewView() });
  };

  function stateNow() {
    return {
      modules,
      dashboard,
      dashboardHistory,
      notifications,
      unreadCount: unread(),
      lastSeq: seq,
      alerts,
      acknowledgedAlerts: acknowledged,
      outbox: [],
      connection,
      source,
      lastUpdate: source.kind === 'demo' ? null : iso(Date.now() - 4000),
      counters: { droppedEvents: 0, badAcks: 0, connects: 0 },
    };
  }

  function tickModule(m) {
    const view = modules[m];
    const kpis = view.latest.kpis.map((k) => {
      const h = view.history[k.key];
      const at = view.historyAt[k.key];
      const next = settle(k.key, k.value * (1 + (rand() - 0.47) * 0.02));
      h.push(next);
      at.push(iso(Date.now()));
      if (h.length > 60) h.shift();
      if (at.length > 60) at.shift();
      return kpi(k, next, h[Math.max(0, h.length - 8)]);
    });
    view.latest = { module: m, kpis, updatedAt: iso(Date.now()) };
    // As Rust's bridge sends it: the update, and the module as kept.
    update({
      type: 'module',
      event: `kpi:update:${m}`,
      data: clone(view.latest),
      view: clone({ latest: view.latest, history: view.history }),
    });
    // Its tiles on the dashboard follow at once.
    const mirrors = (list) => list.some((k) => SEED.walk[k.key] && SEED.walk[k.key].module === m);
    if (mirrors(dashboard.summary) || mirrors(dashboard.topKpis)) tickDashboard(false);
  }

  /** The dashboard moves (`own`: its own tiles too) and is sent. */
  function tickDashboard(own = true) {
    const step = (list) =>
      list.map((k) =>
        tile(k, () => (own ? kpi(k, settle(k.key, k.value * (1 + (rand() - 0.48) * 0.02)), k.value) : k)),
      );
    dashboard.summary = step(dashboard.summary);
    dashboard.topKpis = step(dashboard.topKpis);
    dashboard.updatedAt = iso(Date.now());
    for (const k of [...dashboard.summary, ...dashboard.topKpis]) {
      const h = (dashboardHistory[k.key] ||= []);
      h.push(k.value);
      if (h.length > 60) h.shift();
    }
    update({
      type: 'dashboard',
      event: 'dashboard:update',
      data: clone(dashboard),
      view: clone({ latest: dashboard, history: dashboardHistory }),
    });
  }

  function newNotification(title, body, severity, module) {
    seq += 1;
    const n = { id: `n-${seq}`, seq, title, body, severity, module, createdAt: iso(Date.now()), read: false };
    notifications.push(n);
    if (notifications.length > 500) notifications.shift();
    update(notes([n], []));
  }

  const names = Object.keys(SEED.modules);
  let tick = 0;
  const steady = mode === 'finance10' || mode === 'bursts' || mode === 'idle';
  if (mode === 'finance10') setInterval(() => tickModule('finance'), 100);
  if (mode === 'bursts') {
    setInterval(() => {
      for (const m of names) tickModule(m);
    }, 400);
  }
  if (!steady) setInterval(() => {
    tick += 1;
    tickModule(names[tick % names.length]);
    if (tick % 5 === 0) tickDashboard();
    if (tick % 20 === 0) {
      newNotification('Daily target reached', 'Orders passed the daily target.', 'success', 'finance');
    }
    if (connection.state === 'reconnecting' && Date.parse(connection.nextRetryAt) <= Date.now()) {
      attempt += 1;
      connection = { ...connection, attempt, nextRetryAt: retryIn(Math.min(30, 2 ** attempt)) };
      sendConnection();
    }
    if (connection.state === 'offline' && Date.parse(connection.nextRetryAt) <= Date.now()) {
      connection = { ...connection, attempt: connection.attempt + 1, nextRetryAt: retryIn(30) };
      sendConnection();
    }
  }, 1000);

  if (mode === 'flood') {
    // 1000 events per second in bursts of 50 every 50 ms.
    setInterval(() => {
      const before = sent;
      while (sent - before < 50) {
        const r = rand();
        if (r < 0.85) tickModule(names[Math.floor(rand() * names.length)]);
        else if (r < 0.95) newNotification('Flood test', `Event ${seq + 1}`, 'info', 'reports');
        else tickDashboard();
      }
    }, 50);
  }

  /**
   * What `kpi_history` answers (src-tauri/src/commands.rs, `HistoryView`):
   * while "live", the server's downsampled history for the range, walked
   * from the seed table to the KPI's value now; otherwise what this window
   * received, with why the server was not asked. Same shape and captions.
   */
  function kpiHistory({ module, key, range } = {}) {
    const view = Object.hasOwn(modules, module) ? modules[module] : null;
    if (!view) throw `unknown module \`${module}\`, expected one of ${Object.keys(modules).join(', ')}`;
    const r = HISTORY_RANGES[range];
    if (!r) throw `unknown range \`${String(range).slice(0, 20)}\`, expected one of 1h, 24h, 7d`;
    if (typeof key !== 'string' || !key || [...key].length > 64) throw 'not a KPI key';
    const k = view.latest.kpis.find((x) => x.key === key);
    const thresholds = k && k.thresholds ? clone(k.thresholds) : null;
    const now = Date.now();
    if (connection.state === 'live') {
      if (!k) {
        const points = [];
        const caption = `From the server, ${r.words}: no values in this range`;
        return { source: 'server', range, caption, from: iso(now - r.span * 1000), to: iso(now), points, truncated: false, thresholds };
      }
      // Deterministic per KPI and range, so screenshots are stable.
      const walkRand = rng([...`${module}/${key}/${range}`].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7));
      const n = r.span / r.bucket;
      const values = walkBack(walkRand, k.value, key, n);
      const end = Math.floor(now / 1000 / r.bucket) * r.bucket;
      const points = values.map((value, i) => {
        const spread = Math.abs(value) * walkRand() * 0.01;
        return {
          at: iso((end - (n - 1 - i) * r.bucket) * 1000),
          value,
          min: settle(key, value - spread),
          max: settle(key, value + spread),
        };
      });
      return {
        source: 'server',
        range,
        caption: `From the server, ${r.words}`,
        from: iso(now - r.span * 1000),
        to: iso(now),
        points,
        truncated: false,
        thresholds,
      };
    }
    const why =
      connection.state === 'unauthorized'
        ? 'The server refused the token'
        : connection.state === 'certificate'
          ? "The server's certificate is not trusted"
          : 'Offline';
    const values = view.history[key] || [];
    const times = view.historyAt[key] || [];
    const points = times.map((at, i) => ({ at, value: values[values.length - times.length + i] }));
    // "14:05", with the day ("26 Nov 14:05") when it is not today.
    const clock = (at) => {
      const d = new Date(at);
      const hm = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
      if (d.toDateString() === new Date(now).toDateString()) return hm;
      return `${d.getDate()} ${d.toLocaleString('en-GB', { month: 'short' })} ${hm}`;
    };
    return {
      source: 'local',
      range,
      caption: points.length
        ? `${why}: what this app saw since ${clock(points[0].at)}`
        : `${why}: this app has seen no value of it yet`,
      from: iso(points.length ? Math.min(Date.parse(points[0].at), now) : now),
      to: iso(points.length ? Math.max(Date.parse(points[points.length - 1].at), now) : now),
      points,
      truncated: false,
      thresholds,
    };
  }

  const commands = {
    kpi_history: kpiHistory,
    get_state: () => ({
      state: clone(stateNow()),
      settings: clone(settings),
      now: iso(Date.now()),
      connectionView: previewView(),
    }),
    mark_read: ({ ids } = {}) => {
      if (!Array.isArray(ids)) throw 'mark_read needs `ids`';
      for (const n of notifications) if (ids.includes(n.id)) n.read = true;
      update(notes([], ids));
      return null;
    },
    mark_all_read: () => {
      const ids = notifications.filter((n) => !n.read).map((n) => n.id);
      for (const n of notifications) n.read = true;
      update(notes([], ids));
      return null;
    },
    acknowledge_alerts: ({ ids, all } = {}) => {
      const add = all === true ? alerts.map((a) => a.id) : Array.isArray(ids) ? ids : null;
      if (!add) throw 'give the alert ids, or all: true';
      const kept = new Set(alerts.map((a) => a.id));
      acknowledged = [...new Set(acknowledged.concat(add.filter((id) => kept.has(id))))].sort();
      update({ type: 'acknowledged', ids: clone(acknowledged) });
      return clone(acknowledged);
    },
    diagnose_connection: () => {
      const host = settings.server.replace(/^https?:\/\//, '');
      if (connection.state === 'unauthorized') {
        return { kind: 'token', message: 'The server refused the token: enter the token you were given, then Save.' };
      }
      if (connection.state === 'live') return { kind: 'answers', message: `${host} answers like a Pulseboard server.` };
      return { kind: 'refused', message: `Nothing listens at ${host}: is the Pulseboard server running, and is the port right?` };
    },
    open_link: ({ url } = {}) => {
      if (typeof url !== 'string' || !/^https?:\/\/[^\s/]+/.test(url)) throw 'only web links are opened';
      window.open(url, '_blank', 'noopener');
      return null;
    },
    reconnect: () => {
      if (mode === 'live' || mode === 'flood') return null;
      attempt = 1;
      connection = { state: 'connecting', server: settings.server };
      sendConnection();
      setTimeout(() => {
        connection = { state: 'reconnecting', attempt, nextRetryAt: retryIn(2), reason: 'connection refused' };
        sendConnection();
      }, 1200);
      return null;
    },
    get_settings: () => clone(settings),
    // The preview has no Rust to decide; the real rule is in pulseboard_core.
    plain_http_warning: () => null,
    save_settings: ({ settings: next } = {}) => {
      if (!next || typeof next.server !== 'string') throw 'settings are missing';
      let server = next.server.trim();
      if (server && !server.includes('://')) {
        server = (/^(localhost|127\.|\[::1\])/.test(server) ? 'http://' : 'https://') + server;
      }
      next.server = server;
      if (!/^https?:\/\/[^\s/]+/.test(next.server.trim())) {
        throw `server must be an http:// or https:// URL, got "${next.server}"`;
      }
      const { token, ...rest } = next;
      settings = { ...settings, ...rest, server: next.server.trim() };
      if (typeof token === 'string') settings.hasToken = token.length > 0;
      return clone(settings);
    },
  };

  return {
    mock: true,
    invoke(name, args) {
      return new Promise((resolve, reject) => {
        setTimeout(() => {
          const f = commands[name];
          if (!f) return reject(`unknown command ${name}`);
          try {
            resolve(f(args));
          } catch (e) {
            reject(e);
          }
        }, 10);
      });
    },
    listen(name, cb) {
      if (!listeners.has(name)) listeners.set(name, new Set());
      listeners.get(name).add(cb);
      return Promise.resolve(() => listeners.get(name).delete(cb));
    },
  };
}
