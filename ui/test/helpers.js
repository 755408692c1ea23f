// Fixtures shared by the tests. Times are UTC and the tests pin TZ=UTC so
// local-time formatting is deterministic.
process.env.TZ = 'UTC';

export const T0 = Date.parse('2024-05-01T12:00:00Z');
export const at = (s) => new Date(T0 + s * 1000).toISOString();

export function kpi(key, value, extra = {}) {
  return { key, label: key.toUpperCase(), value, ...extra };
}

export function moduleKpis(module, values, s = 0) {
  return {
    module,
    kpis: Object.entries(values).map(([k, v]) => kpi(k, v)),
    updatedAt: at(s),
  };
}

export function notif(seq, extra = {}) {
  return {
    id: `n-${seq}`,
    seq,
    title: `Title ${seq}`,
    body: `Body ${seq}`,
    severity: 'info',
    createdAt: at(seq),
    read: false,
    ...extra,
  };
}

export function dashboard(s = 0, v = 1) {
  const six = ['a', 'b', 'c', 'd', 'e', 'f'].map((k, i) => kpi(k, v + i));
  const four = ['w', 'x', 'y', 'z'].map((k, i) => kpi(k, v * 10 + i, { unit: '%' }));
  return { summary: six, topKpis: four, updatedAt: at(s) };
}

/** A `get_state` answer. */
export function snapshot(state = {}, settings = undefined) {
  return {
    state: {
      modules: {},
      dashboard: null,
      notifications: [],
      unreadCount: 0,
      lastSeq: 0,
      alerts: [],
      outbox: [],
      connection: { state: 'connecting', server: 'http://x' },
      source: { kind: 'demo' },
      lastUpdate: null,
      counters: { droppedEvents: 0, badAcks: 0, connects: 0 },
      ...state,
    },
    settings,
    now: at(0),
  };
}

export const ev = (event, data) => ({ type: 'event', event, data });
