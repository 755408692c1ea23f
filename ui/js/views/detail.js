// KPI detail: one KPI with the history this window has for it (the values it
// received, newest last), an axis, the value under the pointer or the arrow
// keys, and an honest statement of the span: there is no server-side history
// yet, so there are no 1 h / 24 h / 7 d ranges to pick.

import { setText, svg } from '../dom.js';
import { sparkline } from '../sparkline.js';
import {
  MODULE_LABELS,
  basisText,
  changeOf,
  formatDelta,
  formatValueFull,
  kpiStatus,
} from '../state.js';

const W = 560;
const H = 180;
const PAD = 8;

/** The KPI and its history for `ref` (`{module, key}` or `{dashboard: true, key}`), or null. */
export function findKpi(state, ref) {
  if (!ref) return null;
  if (ref.dashboard) {
    const d = state.dashboard;
    if (!d) return null;
    const kpi = [...(d.summary || []), ...(d.topKpis || [])].find((k) => k && k.key === ref.key);
    return kpi ? { kpi, history: (state.dashboardHistory || {})[ref.key] || [kpi.value], where: 'Dashboard' } : null;
  }
  const view = state.modules[ref.module];
  const kpi = view && view.latest.kpis.find((k) => k.key === ref.key);
  if (!kpi) return null;
  return { kpi, history: view.history[ref.key] || [kpi.value], where: MODULE_LABELS[ref.module] || ref.module };
}

/** Wire the dialog once: close button, Escape, arrow keys on the chart, pointer readout. */
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
  });
  const chart = root.querySelector('#detail-chart');
  chart.addEventListener('keydown', (e) => {
    const n = Number(chart.dataset.count || 0);
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
    const n = Number(chart.dataset.count || 0);
    if (!n) return;
    const r = chart.getBoundingClientRect();
    const x = ((e.clientX - r.left) / r.width) * W;
    showPoint(root, n === 1 ? 0 : Math.round((x / W) * (n - 1)));
  });
}

let current = { values: [], points: [], kpi: null, decimals: undefined };

function showPoint(root, i) {
  const { values, points, kpi } = current;
  if (!kpi || !values.length) return;
  const at = Math.max(0, Math.min(values.length - 1, i));
  const chart = root.querySelector('#detail-chart');
  chart.dataset.cursor = String(at);
  const [x, y] = points[at] || [0, 0];
  const dot = root.querySelector('#detail-dot');
  dot.setAttribute('cx', String(x));
  dot.setAttribute('cy', String(y));
  dot.removeAttribute('hidden');
  const ago = values.length - 1 - at;
  const text = `${formatValueFull({ ...kpi, value: values[at] })} · ${
    ago === 0 ? 'latest value' : `${ago} update${ago === 1 ? '' : 's'} before the latest`
  }`;
  setText(root.querySelector('#detail-readout'), text);
}

/** Fill the dialog for `found` (from findKpi). */
export function renderDetail(root, found) {
  const { kpi, history, where } = found;
  const values = history.filter((v) => typeof v === 'number' && Number.isFinite(v));
  setText(root.querySelector('#detail-title'), kpi.label || kpi.key);
  setText(root.querySelector('#detail-where'), where);
  setText(root.querySelector('#detail-value'), formatValueFull(kpi));
  const status = kpiStatus(kpi);
  const st = root.querySelector('#detail-status');
  st.className = `health health-${status}`;
  setText(st, status === 'ok' ? 'OK' : status === 'warning' ? 'Warning' : 'Critical');
  const change = changeOf(kpi, values);
  setText(
    root.querySelector('#detail-change'),
    change ? `${formatDelta(change.delta)} ${basisText(change.basis)}` : 'No change reported',
  );
  const g = sparkline(values, { width: W, height: H, pad: PAD });
  current = { values, points: g.points, kpi };
  root.querySelector('#detail-line').setAttribute('d', g.d);
  root.querySelector('#detail-area').setAttribute('d', g.area);
  root.querySelector('#detail-dot').setAttribute('hidden', '');
  const chart = root.querySelector('#detail-chart');
  chart.dataset.count = String(values.length);
  delete chart.dataset.cursor;
  const min = Math.min(...values);
  const max = Math.max(...values);
  setText(root.querySelector('#detail-max'), formatValueFull({ ...kpi, value: max }));
  setText(root.querySelector('#detail-min'), formatValueFull({ ...kpi, value: min }));
  chart.setAttribute(
    'aria-label',
    `History of ${kpi.label || kpi.key}: ${values.length} values from ${formatValueFull({ ...kpi, value: values[0] })} to ${formatValueFull(kpi)}, lowest ${formatValueFull({ ...kpi, value: min })}, highest ${formatValueFull({ ...kpi, value: max })}. Left and right arrows read each value.`,
  );
  setText(
    root.querySelector('#detail-span'),
    `The last ${values.length} value${values.length === 1 ? '' : 's'} this window received for this KPI (it keeps up to 60). ` +
      'Longer ranges (1 h, 24 h, 7 d) need history from the server, which it does not serve yet.',
  );
  setText(root.querySelector('#detail-readout'), 'Point at the chart, or focus it and use the arrow keys.');
}

/** Build the chart's SVG parts once. */
export function createDetailChart(root) {
  const chart = root.querySelector('#detail-chart');
  if (chart.firstChild) return;
  chart.setAttribute('viewBox', `0 0 ${W} ${H}`);
  chart.setAttribute('preserveAspectRatio', 'none');
  for (const y of [PAD, H / 2, H - PAD]) {
    chart.append(svg('line', { class: 'grid', x1: 0, x2: W, y1: y, y2: y, 'vector-effect': 'non-scaling-stroke' }));
  }
  chart.append(
    svg('path', { id: 'detail-area', class: 'spark-area' }),
    svg('path', { id: 'detail-line', class: 'spark-line', 'vector-effect': 'non-scaling-stroke' }),
    svg('circle', { id: 'detail-dot', class: 'detail-dot', r: 4, hidden: '' }),
  );
}

