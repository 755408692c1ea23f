// Dashboard view: 6 summary cards and 4 top KPIs, with their own last update.

import { attrSlot, el, kpiNodes, reconcile, setText } from '../dom.js';
import { cardDecimals, formatRelative, formatWhen, isStale } from '../state.js';

/** Tiles kept per container and KPI key, updated in place (see kpiNodes). */
const tiles = new WeakMap();

function tileMaker(cls, sparkOpts) {
  return () => {
    const nodes = kpiNodes(sparkOpts);
    const card = el('article', `card ${cls}`);
    const top = el('div', 'tile-top');
    top.append(nodes.label, nodes.delta);
    card.append(top, nodes.value, nodes.spark);
    card.tabIndex = 0;
    const put = {
      cls: attrSlot(card, 'class'),
      key: attrSlot(card, 'data-key'),
      words: attrSlot(card, 'aria-label'),
    };
    return {
      node: card,
      update(kpi, ctx) {
        const status = nodes.update(
          kpi,
          ctx.history[kpi.key],
          `kpi-dashboard-${kpi.key}`,
          ctx.decimals[kpi.key],
        );
        put.cls(`card ${cls} status-${status}`);
        put.key(kpi.key);
        put.words(nodes.describe());
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
  const ctx = { history, decimals: cardDecimals(kpis) };
  reconcile(container, cache, kpis, (k) => k.key, tileMaker(cls, sparkOpts), ctx);
}

/**
 * Render the dashboard section (`root` is the view's <section>). Redraws only
 * when the dashboard object changed since `prev`.
 */
export function renderDashboard(root, state, prev, nowMs = Date.now()) {
  const stale = isStale(state.connectionView);
  root.classList.toggle('is-stale', stale);
  if (
    prev &&
    prev.dashboard === state.dashboard &&
    prev.dashboardHistory === state.dashboardHistory &&
    isStale(prev.connectionView) === stale
  ) {
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
  const rel = formatRelative(d.updatedAt, nowMs);
  const at = formatWhen(d.updatedAt, nowMs);
  setText(updated, rel === at ? at : `${at} · ${rel}`);
  if (d.updatedAt) updated.dateTime = d.updatedAt;
}

/** The time the dashboard shows as clock texts (see clock.js). */
export function dashboardTimes(state) {
  return state.dashboard ? [state.dashboard.updatedAt] : [];
}
