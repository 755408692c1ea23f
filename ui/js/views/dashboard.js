// Dashboard view: 6 summary cards and 4 top KPIs, with their own last update.

import { el, kpiParts, setText } from '../dom.js';
import { formatTime } from '../state.js';

function tile(kpi, history, cls, sparkOpts) {
  const p = kpiParts(kpi, history, `kpi-dashboard-${kpi.key}`, sparkOpts);
  const card = el('article', `card ${cls} status-${p.status}`);
  card.dataset.key = kpi.key;
  const top = el('div', 'tile-top');
  top.append(p.label, p.delta);
  card.append(top, p.value, p.spark);
  return card;
}

/**
 * Render the dashboard section (`root` is the view's <section>). Redraws only
 * when the dashboard object changed since `prev`.
 */
export function renderDashboard(root, state, prev) {
  if (prev && prev.dashboard === state.dashboard && prev.dashboardHistory === state.dashboardHistory) {
    return;
  }
  const summary = root.querySelector('#dashboard-summary');
  const top = root.querySelector('#dashboard-top');
  const updated = root.querySelector('#dashboard-updated');
  const empty = root.querySelector('#dashboard-empty');
  const d = state.dashboard;
  if (!d) {
    summary.replaceChildren();
    top.replaceChildren();
    setText(updated, '—');
    empty.hidden = false;
    return;
  }
  empty.hidden = true;
  const h = state.dashboardHistory || {};
  summary.replaceChildren(
    ...d.summary.map((k) => tile(k, h[k.key], 'summary-card', { width: 120, height: 24 })),
  );
  top.replaceChildren(
    ...d.topKpis.map((k) => tile(k, h[k.key], 'top-card', { width: 200, height: 40 })),
  );
  setText(updated, formatTime(d.updatedAt));
  if (d.updatedAt) updated.dateTime = d.updatedAt;
}
