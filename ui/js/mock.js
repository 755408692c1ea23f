// In-memory stand-in for the Rust shell, used only when `window.__TAURI__` is
// absent (a plain browser: previews, screenshots). Demo data mirrors
// crates/protocol/src/sample.rs. Scenario via the query string:
//   ?mock=demo (default) | live | cache | offline | unauthorized | connecting | flood
// `flood` is `live` plus 1000 events per second, to check the window keeps up.

const SAMPLE = {
  reports: [
    ['reports_generated', 'Reports generated', 1284, null],
    ['pending_reviews', 'Pending reviews', 37, null],
    ['avg_generation_s', 'Avg generation time', 4.2, 's'],
  ],
  finance: [
    ['revenue', 'Revenue', 1250000, 'USD'],
    ['expenses', 'Expenses', 830000, 'USD'],
    ['profit_margin', 'Profit margin', 33.6, '%'],
    ['cash_flow', 'Cash flow', 420000, 'USD'],
  ],
  hr: [
    ['headcount', 'Headcount', 412, null],
    ['open_positions', 'Open positions', 18, null],
    ['attrition', 'Attrition', 7.9, '%'],
    ['satisfaction', 'Satisfaction', 78, '%'],
  ],
  security: [
    ['threats_blocked', 'Threats blocked', 15230, null],
    ['open_incidents', 'Open incidents', 3, null],
    ['vulnerabilities', 'Vulnerabilities', 12, null],
    ['compliance', 'Compliance', 96.5, '%'],
  ],
};
const SUMMARY = [
  ['active_users', 'Active users', 2840, null],
  ['revenue_today', 'Revenue today', 48200, 'USD'],
  ['orders', 'Orders', 1126, null],
  ['uptime', 'Uptime', 99.95, '%'],
  ['tickets_open', 'Open tickets', 42, null],
  ['nps', 'NPS', 61, null],
];
const TOP = [
  ['conversion', 'Conversion', 3.4, '%'],
  ['churn', 'Churn', 1.8, '%'],
  ['arpu', 'ARPU', 52.3, 'USD'],
  ['latency_p95', 'API latency p95', 180, 'ms'],
];
// A few statuses so the demo shows every colour.
const STATUS = {
  open_incidents: 'critical',
  vulnerabilities: 'warning',
  attrition: 'warning',
  pending_reviews: 'warning',
  latency_p95: 'warning',
};

// Whether a rise is good news (the optional `better` of version 2).
const BETTER = {
  reports_generated: 'up',
  pending_reviews: 'down',
  avg_generation_s: 'down',
  revenue: 'up',
  expenses: 'down',
  profit_margin: 'up',
  cash_flow: 'up',
  attrition: 'down',
  satisfaction: 'up',
  threats_blocked: 'up',
  open_incidents: 'down',
  vulnerabilities: 'down',
  compliance: 'up',
  active_users: 'up',
  revenue_today: 'up',
  orders: 'up',
  uptime: 'up',
  tickets_open: 'down',
  nps: 'up',
  conversion: 'up',
  churn: 'down',
  arpu: 'up',
  latency_p95: 'down',
};

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

function round(v, unit) {
  if (unit === '%' || unit === 's') return Math.round(v * 10) / 10;
  if (unit === 'USD' && Math.abs(v) < 1000) return Math.round(v * 100) / 100;
  return Math.round(v);
}

function walk(rand, base, unit, n) {
  const out = [];
  let v = base * (0.92 + rand() * 0.04);
  for (let i = 0; i < n; i += 1) {
    v = v * (1 + (rand() - 0.46) * 0.03);
    out.push(round(v, unit));
  }
  out[out.length - 1] = base;
  return out;
}

function kpi(key, label, value, unit, prev) {
  const k = { key, label, value };
  if (unit) k.unit = unit;
  k.delta = prev ? Math.round(((value - prev) / Math.abs(prev || 1)) * 1000) / 10 : 0;
  k.status = STATUS[key] || 'ok';
  if (BETTER[key]) k.better = BETTER[key];
  return k;
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
  for (const [m, defs] of Object.entries(SAMPLE)) {
    const history = {};
    const kpis = defs.map(([key, label, value, unit]) => {
      history[key] = walk(rand, value, unit, 40);
      const h = history[key];
      return kpi(key, label, value, unit, h[h.length - 8]);
    });
    modules[m] = { latest: { module: m, kpis, updatedAt: iso(start - 4000) }, history };
  }
  const dashboard = {
    summary: SUMMARY.map(([k, l, v, u]) => kpi(k, l, v, u, v * (1 - (rand() - 0.4) * 0.05))),
    topKpis: TOP.map(([k, l, v, u]) => kpi(k, l, v, u, v * (1 - (rand() - 0.5) * 0.08))),
    updatedAt: iso(start - 9000),
  };

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
    case 'live':
    case 'flood':
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
  const update = (payload) => emit('pb:update', payload);
  const clone = (v) => JSON.parse(JSON.stringify(v));
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
      const next = round(k.value * (1 + (rand() - 0.47) * 0.02), k.unit);
      h.push(next);
      if (h.length > 60) h.shift();
      return kpi(k.key, k.label, next, k.unit, h[Math.max(0, h.length - 8)]);
    });
    view.latest = { module: m, kpis, updatedAt: iso(Date.now()) };
    update({ type: 'event', event: `kpi:update:${m}`, data: clone(view.latest) });
  }

  function tickDashboard() {
    const step = (list) =>
      list.map((k) => kpi(k.key, k.label, round(k.value * (1 + (rand() - 0.48) * 0.02), k.unit), k.unit, k.value));
    dashboard.summary = step(dashboard.summary);
    dashboard.topKpis = step(dashboard.topKpis);
    dashboard.updatedAt = iso(Date.now());
    update({ type: 'event', event: 'dashboard:update', data: clone(dashboard) });
  }

  function newNotification(title, body, severity, module) {
    seq += 1;
    const n = { id: `n-${seq}`, seq, title, body, severity, module, createdAt: iso(Date.now()), read: false };
    notifications.push(n);
    if (notifications.length > 500) notifications.shift();
    update({ type: 'event', event: 'notification:new', data: clone(n) });
  }

  const names = Object.keys(SAMPLE);
  let tick = 0;
  setInterval(() => {
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
      for (let i = 0; i < 50; i += 1) {
        const r = rand();
        if (r < 0.85) tickModule(names[Math.floor(rand() * names.length)]);
        else if (r < 0.95) newNotification('Flood test', `Event ${seq + 1}`, 'info', 'reports');
        else tickDashboard();
      }
    }, 50);
  }

  const commands = {
    get_state: () => ({
      state: clone(stateNow()),
      settings: clone(settings),
      now: iso(Date.now()),
      connectionView: previewView(),
    }),
    mark_read: ({ ids } = {}) => {
      if (!Array.isArray(ids)) throw 'mark_read needs `ids`';
      for (const n of notifications) if (ids.includes(n.id)) n.read = true;
      update({ type: 'event', event: 'notification:read', data: { ids, unreadCount: unread() } });
      update({ type: 'unread', count: unread() });
      return null;
    },
    mark_all_read: () => {
      const ids = notifications.filter((n) => !n.read).map((n) => n.id);
      for (const n of notifications) n.read = true;
      update({ type: 'event', event: 'notification:read', data: { ids, unreadCount: 0 } });
      update({ type: 'unread', count: 0 });
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
