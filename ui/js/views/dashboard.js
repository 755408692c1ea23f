// Dashboard view: 6 summary cards and 4 top KPIs, with their own last update.

import { el, kpiNodes, reconcile, setText } from '../dom.js';
import { formatTime } from '../state.js';

/** Tiles kept per container and KPI key, updated in place (see kpiNodes). */
const tiles = new WeakMap();

function tileMaker(cls, sparkOpts) {
  return () => {
    const nodes = kpiNodes(sparkOpts);
    const card = el('article', `card ${cls}`);
    const top = el('div', 'tile-top');
    top.append(nodes.label, nodes.delta);
    card.append(top, nodes.value, nodes.spark);
    return {
      node: card,
      update(kpi, history) {
        const status = nodes.update(kpi, history[kpi.key], `kpi-dashboard-${kpi.key}`);
        const c = `card ${cls} status-${status}`;
        if (card.className !== c) card.className = c;
        if (card.dataset.key !== kpi.key) card.dataset.key = kpi.key;
      },
    };
  };
}

function renderTiles(container, kpis, cls, sparkOpts, history) {
  let cache = tiles.get(container);
  if (!cache) {
    cache = new Map();
    tiles.set(container, cache);
  }
  reconcile(container, cache, kpis, (k) => k.key, tileMaker(cls, sparkOpts), history);
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
    renderTiles(summary, [], 'summary-card', {}, {});
    renderTiles(top, [], 'top-card', {}, {});
    setText(updated, '—');
    empty.hidden = false;
    return;
  }
  empty.hidden = true;
  const history = state.dashboardHistory || {};
  renderTiles(summary, d.summary, 'summary-card', { width: 120, height: 24 }, history);
  renderTiles(top, d.topKpis, 'top-card', { width: 200, height: 40 }, history);
  setText(updated, formatTime(d.updatedAt));
  if (d.updatedAt) updated.dateTime = d.updatedAt;
}
