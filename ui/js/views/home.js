// Home view: one card per module with its KPIs, sparklines and last update.

import { el, kpiNodes, reconcile, setText } from '../dom.js';
import { MODULES, MODULE_LABELS, formatTime, worstStatus } from '../state.js';

const cardsByRoot = new WeakMap();

function createCards(root) {
  const cards = {};
  for (const m of MODULES) {
    const card = el('article', 'card module-card');
    card.dataset.testid = `module-card-${m}`;
    card.dataset.module = m;
    const titleId = `module-title-${m}`;
    card.setAttribute('aria-labelledby', titleId);

    const head = el('header', 'card-head');
    const title = el('h2', 'card-title', MODULE_LABELS[m]);
    title.id = titleId;
    const health = el('span', 'health health-ok', 'Waiting for data');
    head.append(title, health);

    const list = el('ul', 'kpi-list');
    const foot = el('footer', 'card-foot');
    const time = el('time', 'last-updated', '—');
    time.dataset.testid = `last-updated-${m}`;
    time.id = `last-updated-${m}`;
    foot.append('Last updated ', time);

    card.append(head, list, foot);
    root.appendChild(card);
    cards[m] = { card, health, list, time, rows: new Map() };
  }
  return cards;
}

function healthText(kpis) {
  let warn = 0;
  let crit = 0;
  for (const k of kpis) {
    if (k.status === 'critical') crit += 1;
    else if (k.status === 'warning') warn += 1;
  }
  if (crit) return `${crit} critical`;
  if (warn) return `${warn} warning${warn > 1 ? 's' : ''}`;
  return 'Healthy';
}

function kpiRow(module) {
  const nodes = kpiNodes({ width: 120, height: 28 });
  const row = el('li', 'kpi-row');
  row.append(nodes.label, nodes.spark, nodes.value, nodes.delta);
  return {
    node: row,
    update(kpi, history) {
      const status = nodes.update(kpi, history[kpi.key], `kpi-${module}-${kpi.key}`);
      const cls = `kpi-row status-${status}`;
      if (row.className !== cls) row.className = cls;
      if (row.dataset.key !== kpi.key) row.dataset.key = kpi.key;
    },
  };
}

function renderModule(refs, module, view) {
  if (!view) {
    refs.rows.clear();
    refs.list.replaceChildren(el('li', 'kpi-empty', 'No data yet'));
    setText(refs.time, '—');
    return;
  }
  const kpis = view.latest.kpis;
  const worst = worstStatus(kpis);
  const cardClass = `card module-card status-${worst}`;
  if (refs.card.className !== cardClass) refs.card.className = cardClass;
  const healthClass = `health health-${worst}`;
  if (refs.health.className !== healthClass) refs.health.className = healthClass;
  setText(refs.health, healthText(kpis));
  // Rows are kept per KPI key and updated in place (see kpiNodes).
  reconcile(refs.list, refs.rows, kpis, (k) => k.key, () => kpiRow(module), view.history || {});
  setText(refs.time, formatTime(view.latest.updatedAt));
  if (view.latest.updatedAt && refs.time.dateTime !== view.latest.updatedAt) {
    refs.time.dateTime = view.latest.updatedAt;
  }
}

/**
 * Render the module cards into `root`. Only modules whose data changed since
 * `prev` (by reference) are redrawn.
 */
export function renderHome(root, state, prev) {
  let cards = cardsByRoot.get(root);
  const first = !cards;
  if (first) {
    cards = createCards(root);
    cardsByRoot.set(root, cards);
  }
  for (const m of MODULES) {
    const view = state.modules[m];
    if (!first && prev && prev.modules[m] === view) continue;
    renderModule(cards[m], m, view);
  }
}
