// Tiny DOM helpers. Text always goes in through textContent; nothing here
// ever parses HTML.

import { sparkline } from './sparkline.js';
import {
  basisText,
  changeOf,
  deltaDirection,
  deltaTone,
  formatDelta,
  formatValue,
  formatValueFull,
  kpiStatus,
} from './state.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Create an element with an optional class and text. */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/** Create an SVG element with attributes. */
export function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/** Web links in text: http(s) up to a space or quote; trailing punctuation is not part of them. */
const LINK = /https?:\/\/[^\s<>"'`]+/g;

/**
 * Append `text` to `node` as text, with each web link in it as an
 * `<a data-link>` (text set with textContent; the page opens it only through
 * Rust's `open_link`, after asking).
 */
export function appendLinked(node, text) {
  const s = String(text ?? '');
  let at = 0;
  for (const m of s.matchAll(LINK)) {
    let url = m[0];
    const trail = url.match(/[.,;:!?)\]}]+$/);
    if (trail) url = url.slice(0, url.length - trail[0].length);
    if (url.length <= 'https://'.length) continue;
    if (m.index > at) node.append(s.slice(at, m.index));
    const a = el('a', 'link', url);
    a.href = url;
    a.dataset.link = url;
    a.rel = 'noreferrer';
    node.append(a);
    at = m.index + url.length;
  }
  if (at < s.length) node.append(s.slice(at));
  return node;
}

/** Set text only when it changed (avoids needless layout work). */
export function setText(node, text) {
  const t = String(text);
  if (node.textContent !== t) node.textContent = t;
}

/**
 * Keep `parent`'s element children as one node per item, in the items' order,
 * reusing nodes by key across redraws. `cache` (a Map owned by the caller)
 * holds `{ node, update(item, ctx) }` entries made by `make(item)`; `update`
 * runs for every item on every call, with this call's `ctx`. Repeated keys after the first are skipped;
 * any other child (a placeholder, a stale entry) is removed.
 */
export function reconcile(parent, cache, items, keyOf, make, ctx) {
  const seen = new Set();
  let i = 0;
  for (const item of items) {
    const key = keyOf(item);
    if (seen.has(key)) continue;
    seen.add(key);
    let entry = cache.get(key);
    if (!entry) {
      entry = make(item);
      cache.set(key, entry);
    }
    entry.update(item, ctx);
    const at = parent.children[i];
    if (at !== entry.node) parent.insertBefore(entry.node, at ?? null);
    i += 1;
  }
  while (parent.children.length > i) parent.lastElementChild.remove();
  for (const key of [...cache.keys()]) if (!seen.has(key)) cache.delete(key);
}

/**
 * A text the page draws into `node` (its text so far kept), set through
 * `slot(text)`: one Text node made once, whose data is set only when the text differs from what the slot
 * last wrote. The DOM is never read back, and no node is replaced (assigning
 * textContent would remove the old Text node and insert a new one, which
 * WebKit restyles and gives a new text box; setting data updates the box in
 * place).
 */
export function textSlot(node) {
  const t = document.createTextNode(node.textContent);
  node.replaceChildren(t);
  let last = t.data;
  return (text) => {
    const s = String(text);
    if (s === last) return false;
    last = s;
    t.data = s;
    return true;
  };
}

/**
 * An attribute the page draws on `node`, set through `slot(value)` (null or
 * undefined: removed), written only when it differs from what the slot last
 * wrote; the DOM is not read back.
 */
export function attrSlot(node, name) {
  let last = node.getAttribute(name);
  return (value) => {
    const v = value === null || value === undefined ? null : String(value);
    if (v === last) return false;
    last = v;
    if (v === null) node.removeAttribute(name);
    else node.setAttribute(name, v);
    return true;
  };
}

/**
 * The nodes of one KPI (label, value, delta chip, sparkline), built once and
 * then updated in place: a redraw writes only the texts and attributes that
 * changed since its last write (slots: textSlot, attrSlot), so a KPI update
 * costs the webview a small restyle and repaint, not a rebuilt subtree, and
 * the page no DOM reads. `update(kpi, history, testId, decimals)` returns the
 * KPI status.
 */
export function kpiNodes({ width = 100, height = 28 } = {}) {
  const dot = el('span', 'status-dot');
  dot.setAttribute('aria-hidden', 'true');
  const text = el('span', 'kpi-label-text');
  const sr = el('span', 'sr-only');
  const label = el('span', 'kpi-label');
  label.append(dot, text, sr);
  const value = el('span', 'kpi-value');
  const delta = el('span', 'delta');
  const area = svg('path', { class: 'spark-area' });
  const line = svg('path', { class: 'spark-line', 'vector-effect': 'non-scaling-stroke' });
  const spark = svg('svg', {
    class: 'spark',
    viewBox: `0 0 ${width} ${height}`,
    preserveAspectRatio: 'none',
    focusable: 'false',
    'aria-hidden': 'true',
  });
  spark.append(area, line);
  const put = {
    dotClass: attrSlot(dot, 'class'),
    name: textSlot(text),
    nameTitle: attrSlot(text, 'title'),
    sr: textSlot(sr),
    valueClass: attrSlot(value, 'class'),
    value: textSlot(value),
    valueTitle: attrSlot(value, 'title'),
    testId: attrSlot(value, 'data-testid'),
    deltaClass: attrSlot(delta, 'class'),
    delta: textSlot(delta),
    deltaLabel: attrSlot(delta, 'aria-label'),
    deltaTitle: attrSlot(delta, 'title'),
    line: attrSlot(line, 'd'),
    area: attrSlot(area, 'd'),
  };

  /**
   * `decimals`: the card's decimals for this KPI (see cardDecimals). Returns
   * the status; `describe()` gives the whole KPI in words (for a row's label).
   */
  let words = '';
  function update(kpi, history, testId, decimals) {
    const status = kpiStatus(kpi);
    put.dotClass(`status-dot status-${status}`);
    const name = kpi.label || kpi.key;
    put.name(name);
    put.nameTitle(name);
    put.sr(status === 'ok' ? '' : ` (${status})`);
    put.valueClass(`kpi-value value-${status}`);
    const full = formatValueFull(kpi, decimals);
    put.value(formatValue(kpi, decimals, full));
    // The full value when the drawn one is compact or cut.
    put.valueTitle(full);
    if (testId) put.testId(testId);
    const change = changeOf(kpi, history);
    const dir = change ? deltaDirection(change.delta) : 'flat';
    const tone = change ? deltaTone(change.delta, kpi.better) : 'neutral';
    const chip = change ? formatDelta(change.delta) : '';
    put.deltaClass(`delta delta-${dir} delta-${tone}`);
    put.delta(chip);
    let said = '';
    if (chip) {
      const w = dir === 'up' ? 'up' : dir === 'down' ? 'down' : 'unchanged';
      const good = tone === 'good' ? ', good' : tone === 'bad' ? ', bad' : '';
      said = `${w} ${chip.replace(/^[^ ]+ /, '')} ${basisText(change.basis)}${good}`;
      put.deltaLabel(said);
      put.deltaTitle(`${chip} ${basisText(change.basis)}`);
    } else {
      put.deltaLabel(null);
      put.deltaTitle(null);
    }
    words = `${name}${status === 'ok' ? '' : ` (${status})`}: ${full}${said ? `, ${said}` : ''}`;
    const g = sparkline(history && history.length ? history : [kpi.value], { width, height });
    put.line(g.d);
    put.area(g.area);
    return status;
  }
  const describe = () => words;
  return { label, value, delta, spark, update, describe };
}
