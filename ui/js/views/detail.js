// KPI detail: one KPI with its history, an axis, the value under the pointer
// or the arrow keys, the KPI's warning/critical thresholds as lines, and an
// honest statement of what is shown.
//
// Ranges: "Recent" draws the values this window received (newest last, one
// step per update). "1 h", "24 h", "7 d" ask Rust (`kpi_history`), which
// asks the server, or falls back to what the app saw and says so in the
// caption it returns; this file only draws the answer on a time axis. The
// chosen range is kept for the next KPI opened.

import { kpiHistory, errorMessage } from '../ipc.js';
import { setText, svg } from '../dom.js';
import {
  MODULE_LABELS,
  basisText,
  changeOf,
  formatDelta,
  formatValueFull,
  kpiStatus,
} from '../state.js';

const REFRESH_MS = 5000;
const W = 560;
const H = 180;
const PAD = 8;

export const RANGES = Object.freeze([
  { id: 'recent', label: 'Recent', title: 'The values this window received' },
  { id: '1h', label: '1 h', title: 'The last hour, from the server' },
  { id: '24h', label: '24 h', title: 'The last 24 hours, from the server' },
  { id: '7d', label: '7 d', title: 'The last 7 days, from the server' },
]);

/** The KPI and its history for `ref` (`{module, key}` or `{dashboard: true, key}`), or null. */
export function findKpi(state, ref) {
  if (!ref) return null;
  if (ref.dashboard) {
    const d = state.dashboard;
    if (!d) return null;
    const kpi = [...(d.summary || []), ...(d.topKpis || [])].find((k) => k && k.key === ref.key);
    return kpi
      ? { kpi, ref, history: (state.dashboardHistory || {})[ref.key] || [kpi.value], where: 'Dashboard' }
      : null;
  }
  const view = state.modules[ref.module];
  const kpi = view && view.latest.kpis.find((k) => k.key === ref.key);
  if (!kpi) return null;
  return {
    kpi,
    ref,
    history: view.history[ref.key] || [kpi.value],
    where: MODULE_LABELS[ref.module] || ref.module,
    stamp: view.latest.updatedAt,
  };
}

// What is drawn now. `range` outlives the dialog (the next KPI opens with it).
let range = 'recent';
let shown = {
  ref: null,
  kpi: null,
  found: null,
  // Server/local answer of Rust for a range other than 'recent'.
  answer: null,
  // Increases with every request, so a late answer for an older one is dropped.
  ask: 0,
  // When the server was last asked (ms) and the update it had by then.
  askedAt: 0,
  stamp: undefined,
  // A pending refresh (timer), if any.
  refresh: null,
  // Drawn points: [{x, y, value, at?, min?, max?}].
  points: [],
};

function finite(v) {
  return typeof v === 'number' && Number.isFinite(v);
}

function pad2(n) {
  return String(n).padStart(2, '0');
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** A time on the axis or in the readout (local time; the day when it is not today). */
function clock(t, seconds = false) {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return '';
  const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}${seconds ? `:${pad2(d.getSeconds())}` : ''}`;
  const today = new Date();
  return d.toDateString() === today.toDateString() ? hm : `${DAYS[d.getDay()]} ${d.getDate()} ${hm}`;
}

function thresholdsOf(kpi, answer) {
  const t = (answer && answer.thresholds) || (kpi && kpi.thresholds) || null;
  if (!t || typeof t !== 'object') return {};
  return {
    warning: finite(t.warning) ? t.warning : undefined,
    critical: finite(t.critical) ? t.critical : undefined,
  };
}

/** Wire the dialog once: close button, Escape, ranges, arrow keys on the chart, pointer readout. */
export function bindDetail(root, { onClose }) {
  root.querySelector('#detail-close').addEventListener('click', () => onClose());
  root.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      onClose();
    }
  });
  root.addEventListener('click', (e) => {
    if (e.target === root) onClose();
    const b = e.target instanceof Element ? e.target.closest('[data-range]') : null;
    if (b && root.contains(b)) chooseRange(root, b.dataset.range);
  });
  const chart = root.querySelector('#detail-chart');
  chart.addEventListener('keydown', (e) => {
    const n = shown.points.length;
    if (!n) return;
    let i = Number(chart.dataset.cursor ?? n - 1);
    if (e.key === 'ArrowLeft') i = Math.max(0, i - 1);
    else if (e.key === 'ArrowRight') i = Math.min(n - 1, i + 1);
    else if (e.key === 'Home') i = 0;
    else if (e.key === 'End') i = n - 1;
    else return;
    e.preventDefault();
    showPoint(root, i);
  });
  chart.addEventListener('mousemove', (e) => {
    const n = shown.points.length;
    if (!n) return;
    const r = chart.getBoundingClientRect();
    const x = ((e.clientX - r.left) / r.width) * W;
    // The point nearest the pointer along the time (or update) axis.
    let best = 0;
    for (let i = 1; i < n; i++) {
      if (Math.abs(shown.points[i].x - x) < Math.abs(shown.points[best].x - x)) best = i;
    }
    showPoint(root, best);
  });
}

function showPoint(root, i) {
  const { points, kpi } = shown;
  if (!kpi || !points.length) return;
  const at = Math.max(0, Math.min(points.length - 1, i));
  const chart = root.querySelector('#detail-chart');
  chart.dataset.cursor = String(at);
  const p = points[at];
  const dot = root.querySelector('#detail-dot');
  dot.setAttribute('cx', String(p.x));
  dot.setAttribute('cy', String(p.y));
  dot.removeAttribute('hidden');
  const value = formatValueFull({ ...kpi, value: p.value });
  let text;
  if (p.at === undefined) {
    const ago = points.length - 1 - at;
    text = `${value} · ${ago === 0 ? 'latest value' : `${ago} update${ago === 1 ? '' : 's'} before the latest`}`;
  } else {
    text = `${value} · ${clock(p.at, true)}`;
    if (finite(p.min) && finite(p.max) && p.min !== p.max) {
      text += ` (lowest ${formatValueFull({ ...kpi, value: p.min })}, highest ${formatValueFull({ ...kpi, value: p.max })})`;
    }
  }
  setText(root.querySelector('#detail-readout'), text);
}

function setRangeButtons(root, dashboard) {
  for (const b of root.querySelectorAll('[data-range]')) {
    b.setAttribute('aria-pressed', String(b.dataset.range === range));
    // The server keeps no history of the dashboard's KPIs.
    b.hidden = dashboard && b.dataset.range !== 'recent';
  }
}

function chooseRange(root, id) {
  if (!RANGES.some((r) => r.id === id) || !shown.found) return;
  range = id;
  shown.answer = null;
  draw(root);
  if (range !== 'recent' && !shown.ref.dashboard) ask(root);
}

/** Ask Rust for the range's history; `quiet`: a refresh (no "asking", the cursor stays). */
function ask(root, quiet = false) {
  const n = ++shown.ask;
  const { ref } = shown;
  const asked = range;
  shown.askedAt = Date.now();
  shown.stamp = shown.found && shown.found.stamp;
  if (!quiet) {
    root.querySelector('.detail').dataset.loading = 'true';
    setText(root.querySelector('#detail-span'), 'Asking the server…');
  }
  kpiHistory(ref.module, ref.key, asked)
    .then((answer) => answer, (err) => ({ source: 'error', caption: errorMessage(err), points: [] }))
    .then((answer) => {
      if (n !== shown.ask || asked !== range) return;
      delete root.querySelector('.detail').dataset.loading;
      shown.answer = answer && typeof answer === 'object' ? answer : { source: 'error', caption: '', points: [] };
      draw(root, quiet);
    });
}

/** Fill the dialog for `found` (from findKpi): on open, and on every state change while open. */
export function renderDetail(root, found) {
  const { kpi, where, ref } = found;
  const opening =
    root.hidden ||
    !shown.ref ||
    shown.ref.key !== ref.key ||
    shown.ref.module !== ref.module ||
    Boolean(shown.ref.dashboard) !== Boolean(ref.dashboard);
  shown.found = found;
  shown.kpi = kpi;
  shown.ref = ref;
  setText(root.querySelector('#detail-title'), kpi.label || kpi.key);
  setText(root.querySelector('#detail-where'), where);
  setText(root.querySelector('#detail-value'), formatValueFull(kpi));
  const status = kpiStatus(kpi);
  const st = root.querySelector('#detail-status');
  st.className = `health health-${status}`;
  setText(st, status === 'ok' ? 'OK' : status === 'warning' ? 'Warning' : 'Critical');
  const values = found.history.filter(finite);
  const change = changeOf(kpi, values);
  setText(
    root.querySelector('#detail-change'),
    change ? `${formatDelta(change.delta)} ${basisText(change.basis)}` : 'No change reported',
  );
  if (ref.dashboard && range !== 'recent') range = 'recent';
  setRangeButtons(root, Boolean(ref.dashboard));
  if (opening) {
    shown.answer = null;
    shown.ask++;
    draw(root);
    if (range !== 'recent') ask(root);
  } else if (range === 'recent') {
    // New values arrived: draw them.
    draw(root, true);
  } else if (!ref.dashboard && found.stamp !== shown.stamp && !shown.refresh) {
    // A new update of the module: the server's history has it too (it is
    // stored before it is sent). At most one refresh per 5 s.
    const wait = Math.max(0, shown.askedAt + REFRESH_MS - Date.now());
    shown.refresh = setTimeout(() => {
      shown.refresh = null;
      if (!root.hidden && range !== 'recent' && shown.found && shown.found.stamp !== shown.stamp) ask(root, true);
    }, wait);
  }
}

/** Lowest and highest of the values (and thresholds) drawn. */
function domain(values, t) {
  const all = values.concat([t.warning, t.critical].filter(finite));
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  if (lo === hi) {
    const d = Math.abs(lo) * 0.05 || 1;
    lo -= d;
    hi += d;
  }
  return [lo, hi];
}

function yOf(v, lo, hi) {
  return Math.round((PAD + (1 - (v - lo) / (hi - lo)) * (H - 2 * PAD)) * 100) / 100;
}

function drawThresholds(root, t, lo, hi) {
  const lines = [];
  for (const level of ['warning', 'critical']) {
    const line = root.querySelector(`#detail-threshold-${level}`);
    const v = t[level];
    if (!finite(v)) {
      line.setAttribute('hidden', '');
      continue;
    }
    const y = yOf(v, lo, hi);
    line.setAttribute('y1', String(y));
    line.setAttribute('y2', String(y));
    line.removeAttribute('hidden');
    setText(line.querySelector('title'), `${level === 'warning' ? 'Warning' : 'Critical'} at ${formatValueFull({ ...shown.kpi, value: v })}`);
    lines.push(`${level === 'warning' ? 'Warning' : 'Critical'} at ${formatValueFull({ ...shown.kpi, value: v })}`);
  }
  const legend = root.querySelector('#detail-thresholds');
  setText(legend, lines.join(' · '));
  legend.hidden = lines.length === 0;
}

/** Draw the current range: this window's values, or Rust's answer on a time axis. */
function draw(root, keepCursor = false) {
  const { kpi, found, answer } = shown;
  setRangeButtons(root, Boolean(shown.ref && shown.ref.dashboard));
  const chart = root.querySelector('#detail-chart');
  const t = thresholdsOf(kpi, answer);
  const timed = range !== 'recent' && answer && answer.source !== 'error';
  const band = root.querySelector('#detail-band');
  let values;
  if (!timed) {
    values = found.history.filter(finite);
    if (!values.length) values = [kpi.value];
    const [lo, hi] = domain(values, t);
    // One step per update, on a scale that also fits the thresholds.
    const step = values.length > 1 ? W / (values.length - 1) : 0;
    shown.points = values.map((v, i) => ({
      x: values.length > 1 ? Math.round(i * step * 100) / 100 : W,
      y: yOf(v, lo, hi),
      value: v,
    }));
    const d =
      values.length > 1
        ? shown.points.map((p, i) => `${i ? 'L' : 'M'}${p.x},${p.y}`).join(' ')
        : `M0,${shown.points[0].y} L${W},${shown.points[0].y}`;
    const flat = !values.some((v) => v !== values[0]);
    root.querySelector('#detail-line').setAttribute('d', d);
    // A flat line gets no fill: a block would read as data.
    root.querySelector('#detail-area').setAttribute('d', flat ? '' : `${d} L${W},${H} L0,${H} Z`);
    band.setAttribute('d', '');
    drawThresholds(root, t, lo, hi);
    const noLines = !finite(t.warning) && !finite(t.critical);
    setText(root.querySelector('#detail-max'), formatValueFull({ ...kpi, value: flat && noLines ? values[0] : hi }));
    setText(root.querySelector('#detail-min'), formatValueFull({ ...kpi, value: flat && noLines ? values[0] : lo }));
    const [x0, x1] = root.querySelectorAll('.detail-x span');
    setText(x0, 'oldest');
    setText(x1, 'latest');
    root.querySelector('.detail').dataset.source = 'window';
    if (range === 'recent') {
      setText(
        root.querySelector('#detail-span'),
        `The last ${values.length} value${values.length === 1 ? '' : 's'} this window received for this KPI (it keeps up to 60).` +
          (shown.ref && shown.ref.dashboard ? '' : ' Pick 1 h, 24 h or 7 d for the history the server keeps.'),
      );
    } else if (answer && answer.source === 'error') {
      setText(root.querySelector('#detail-span'), `No history: ${answer.caption || 'the app could not ask for it'}. Showing what this window received.`);
    }
    chart.setAttribute(
      'aria-label',
      `History of ${kpi.label || kpi.key}: ${values.length} values from ${formatValueFull({ ...kpi, value: values[0] })} to ${formatValueFull(kpi)}. Left and right arrows read each value.`,
    );
  } else {
    const from = Date.parse(answer.from);
    const to = Date.parse(answer.to);
    const span = to > from ? to - from : 1;
    const pts = (Array.isArray(answer.points) ? answer.points : []).filter((p) => p && finite(p.value) && !Number.isNaN(Date.parse(p.at)));
    values = pts.map((p) => p.value);
    const lows = pts.map((p) => (finite(p.min) ? p.min : p.value));
    const highs = pts.map((p) => (finite(p.max) ? p.max : p.value));
    const [lo, hi] = values.length ? domain(lows.concat(highs), t) : domain([kpi.value], t);
    const xOf = (at) => Math.round(Math.max(0, Math.min(1, (Date.parse(at) - from) / span)) * W * 100) / 100;
    shown.points = pts.map((p, i) => ({ x: xOf(p.at), y: yOf(p.value, lo, hi), value: p.value, at: p.at, min: lows[i], max: highs[i] }));
    // Buckets without a value are skipped: the line joins the neighbours
    // (a KPI published every hour still reads as a line).
    let d = shown.points.map((p, i) => `${i ? 'L' : 'M'}${p.x},${p.y}`).join(' ');
    if (shown.points.length === 1) {
      const p = shown.points[0];
      d = `M${Math.max(0, p.x - 3)},${p.y} L${Math.min(W, p.x + 3)},${p.y}`;
    }
    root.querySelector('#detail-line').setAttribute('d', d);
    root.querySelector('#detail-area').setAttribute('d', '');
    // The lowest-to-highest band of each bucket.
    const top = shown.points.map((p, i) => `${i ? 'L' : 'M'}${p.x},${yOf(highs[i], lo, hi)}`).join(' ');
    const bottom = shown.points
      .map((p, i) => [p.x, yOf(lows[i], lo, hi)])
      .reverse()
      .map(([x, y]) => `L${x},${y}`)
      .join(' ');
    band.setAttribute('d', shown.points.length > 1 ? `${top} ${bottom} Z` : '');
    drawThresholds(root, t, lo, hi);
    setText(root.querySelector('#detail-max'), formatValueFull({ ...kpi, value: hi }));
    setText(root.querySelector('#detail-min'), formatValueFull({ ...kpi, value: lo }));
    const [x0, x1] = root.querySelectorAll('.detail-x span');
    setText(x0, clock(answer.from));
    setText(x1, clock(answer.to));
    root.querySelector('.detail').dataset.source = answer.source === 'server' ? 'server' : 'local';
    setText(root.querySelector('#detail-span'), String(answer.caption || ''));
    chart.setAttribute(
      'aria-label',
      `History of ${kpi.label || kpi.key}, ${String(answer.caption || '')}: ${pts.length} points. Left and right arrows read each value.`,
    );
  }
  chart.dataset.count = String(shown.points.length);
  if (!keepCursor || chart.dataset.cursor === undefined) {
    delete chart.dataset.cursor;
    root.querySelector('#detail-dot').setAttribute('hidden', '');
    setText(root.querySelector('#detail-readout'), 'Point at the chart, or focus it and use the arrow keys.');
  } else {
    showPoint(root, Number(chart.dataset.cursor));
  }
}

/** Build the chart's SVG parts, the range buttons and the thresholds legend once. */
export function createDetailChart(root) {
  const chart = root.querySelector('#detail-chart');
  if (chart.firstChild) return;
  chart.setAttribute('viewBox', `0 0 ${W} ${H}`);
  chart.setAttribute('preserveAspectRatio', 'none');
  for (const y of [PAD, H / 2, H - PAD]) {
    chart.append(svg('line', { class: 'grid', x1: 0, x2: W, y1: y, y2: y, 'vector-effect': 'non-scaling-stroke' }));
  }
  const threshold = (level) => {
    const line = svg('line', {
      id: `detail-threshold-${level}`,
      class: `threshold threshold-${level}`,
      'data-testid': `detail-threshold-${level}`,
      x1: 0,
      x2: W,
      y1: 0,
      y2: 0,
      'vector-effect': 'non-scaling-stroke',
      hidden: '',
    });
    line.append(svg('title'));
    return line;
  };
  chart.append(
    svg('path', { id: 'detail-band', class: 'detail-band' }),
    svg('path', { id: 'detail-area', class: 'spark-area' }),
    threshold('warning'),
    threshold('critical'),
    svg('path', { id: 'detail-line', class: 'spark-line', 'vector-effect': 'non-scaling-stroke' }),
    svg('circle', { id: 'detail-dot', class: 'detail-dot', r: 4, hidden: '' }),
  );
  const bar = document.createElement('div');
  bar.className = 'detail-ranges';
  bar.setAttribute('role', 'group');
  bar.setAttribute('aria-label', 'History range');
  for (const r of RANGES) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'btn btn-small detail-range';
    b.dataset.range = r.id;
    b.dataset.testid = `detail-range-${r.id}`;
    b.title = r.title;
    b.textContent = r.label;
    b.setAttribute('aria-pressed', String(r.id === range));
    bar.append(b);
  }
  root.querySelector('.detail-plot').before(bar);
  const legend = document.createElement('p');
  legend.className = 'detail-thresholds muted';
  legend.id = 'detail-thresholds';
  legend.dataset.testid = 'detail-thresholds';
  legend.hidden = true;
  root.querySelector('#detail-readout').before(legend);
}
