// Home view: one card per module with its KPIs, sparklines and last update.

import { attrSlot, el, kpiNodes, reconcile, textSlot } from '../dom.js';
import {
  MODULES,
  MODULE_LABELS,
  cardDecimals,
  formatRelative,
  formatTime,
  formatWhen,
  isStale,
  worstStatus,
} from '../state.js';

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
    const ago = el('span', 'ago');
    ago.dataset.testid = `updated-ago-${m}`;
    foot.append('Last updated ', time, ago);

    card.append(head, list, foot);
    root.appendChild(card);
    // What a redraw may change, each written only when it changed (dom.js slots).
    let rows = null;
    const put = {
      cardClass: attrSlot(card, 'class'),
      healthClass: attrSlot(health, 'class'),
      health: textSlot(health),
      time: textSlot(time),
      dateTime: attrSlot(time, 'datetime'),
      timeTitle: attrSlot(time, 'title'),
      ago: textSlot(ago),
      rows: (n) => {
        if (n === rows) return;
        rows = n;
        card.style.setProperty('--rows', String(n));
      },
    };
    cards[m] = { card, list, foot, put, rows: new Map() };
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
  // Focusable, so a cut name and the full value are reachable by keyboard:
  // focus shows the whole name, and the row's label says everything.
  row.tabIndex = 0;
  row.append(nodes.label, nodes.spark, nodes.value, nodes.delta);
  const put = {
    cls: attrSlot(row, 'class'),
    key: attrSlot(row, 'data-key'),
    words: attrSlot(row, 'aria-label'),
  };
  return {
    node: row,
    update(kpi, ctx) {
      const status = nodes.update(
        kpi,
        ctx.history[kpi.key],
        `kpi-${module}-${kpi.key}`,
        ctx.decimals[kpi.key],
      );
      put.cls(`kpi-row status-${status}`);
      put.key(kpi.key);
      put.words(nodes.describe());
    },
  };
}

function renderModule(refs, module, view, stale, nowMs) {
  if (!view) {
    refs.rows.clear();
    refs.list.replaceChildren(el('li', 'kpi-empty', 'No data yet'));
    refs.put.rows(1);
    refs.put.time('—');
    refs.put.ago('');
    return;
  }
  const kpis = view.latest.kpis;
  const worst = worstStatus(kpis);
  const put = refs.put;
  put.cardClass(`card module-card status-${worst}${stale ? ' is-stale' : ''}`);
  // Offline or refused: the last known health, marked as such.
  put.healthClass(`health health-${stale ? 'stale' : worst}`);
  put.health(stale ? `${healthText(kpis)} as of ${formatWhen(view.latest.updatedAt, nowMs)}` : healthText(kpis));
  // Rows are kept per KPI key and updated in place (see kpiNodes).
  const ctx = { history: view.history || {}, decimals: cardDecimals(kpis) };
  reconcile(refs.list, refs.rows, kpis, (k) => k.key, () => kpiRow(module), ctx);
  // The card's height follows its row count (`--rows`, see `.module-card` in app.css).
  put.rows(Math.max(1, refs.rows.size));
  renderTime(refs, view, nowMs);
}

/** Draw the card's "Last updated" line; true when it changed. */
function renderTime(refs, view, nowMs) {
  const put = refs.put;
  const at = view.latest.updatedAt;
  const whenText = formatWhen(at, nowMs);
  const rel = formatRelative(at, nowMs);
  // Today: the time to the second; another day: the date too.
  const changed = [
    put.time(whenText.includes(',') ? whenText : formatTime(at)),
    at ? put.dateTime(at) : false,
    put.ago(rel === '—' || rel === whenText ? '' : ` · ${rel}`),
    put.timeTitle(new Date(at).toString()),
  ];
  return changed.includes(true);
}

/**
 * Render the module cards into `root`. Only modules whose data changed since
 * `prev` (by reference) are redrawn.
 */
export function renderHome(root, state, prev, nowMs = Date.now()) {
  let cards = cardsByRoot.get(root);
  const first = !cards;
  if (first) {
    cards = createCards(root);
    cardsByRoot.set(root, cards);
  }
  const stale = isStale(state.connectionView);
  const staleChanged = !prev || isStale(prev.connectionView) !== stale;
  const changed = MODULES.filter((m) => first || staleChanged || prev.modules[m] !== state.modules[m]);
  // Each card is a layout root (app.css) while one card at a time changes.
  // Several roots waiting at once make WebKit lay out the whole page and
  // repaint the whole column, so a redraw of several cards (the simulator's
  // bursts of four) lays out the grid instead, as one root would.
  const many = changed.length > 1;
  if (changed.length && root.classList.contains('many') !== many) root.classList.toggle('many', many);
  for (const m of changed) renderModule(cards[m], m, state.modules[m], stale, nowMs);
}

/** Move the relative times on ("3 min ago"); cheap, for a slow timer. */
export function tickHome(root, state, nowMs = Date.now()) {
  const cards = cardsByRoot.get(root);
  if (!cards) return;
  for (const m of MODULES) {
    const view = state.modules[m];
    // Each footer is its own layout root (app.css), laid out here one at a
    // time: its new text repaints its own line. Left to the next frame, the
    // four would wait at once, and several roots waiting at once make WebKit
    // lay out the whole page and repaint the four cards (a 1.9 MB paint
    // buffer per tick against 1.1 MB: BENCHMARKS.md section 3).
    if (view && renderTime(cards[m], view, nowMs)) cards[m].foot.getBoundingClientRect();
  }
}

/** The times the cards show as clock texts (see clock.js). */
export function homeTimes(state) {
  return MODULES.map((m) => state.modules[m]?.latest.updatedAt);
}
