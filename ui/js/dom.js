// Tiny DOM helpers. Text always goes in through textContent; nothing here
// ever parses HTML.

import { sparkline } from './sparkline.js';
import { deltaDirection, formatDelta, formatValue, kpiStatus } from './state.js';

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

/** Set text only when it changed (avoids needless layout work). */
export function setText(node, text) {
  const t = String(text);
  if (node.textContent !== t) node.textContent = t;
}

/** An inline SVG sparkline for `values`, labelled for assistive tech. */
export function sparklineSvg(values, { width = 100, height = 28, label = '' } = {}) {
  const g = sparkline(values, { width, height });
  const root = svg('svg', {
    class: 'spark',
    viewBox: g.viewBox,
    preserveAspectRatio: 'none',
    focusable: 'false',
  });
  if (label) {
    root.setAttribute('role', 'img');
    root.setAttribute('aria-label', label);
  } else {
    root.setAttribute('aria-hidden', 'true');
  }
  if (g.d) {
    if (g.area) root.appendChild(svg('path', { class: 'spark-area', d: g.area }));
    root.appendChild(svg('path', { class: 'spark-line', d: g.d, 'vector-effect': 'non-scaling-stroke' }));
  }
  return root;
}

/** A delta chip: arrow + percent, coloured by direction. */
export function deltaChip(delta) {
  const dir = deltaDirection(delta);
  const text = formatDelta(delta);
  const chip = el('span', `delta delta-${dir}`, text);
  if (text) {
    const words = dir === 'up' ? 'up' : dir === 'down' ? 'down' : 'unchanged';
    chip.setAttribute('aria-label', `${words} ${Math.abs(delta).toFixed(1)} percent`);
  }
  return chip;
}

/**
 * A KPI row/tile body shared by the views: label, value, delta, sparkline.
 * `testId` goes on the value element.
 */
export function kpiParts(kpi, history, testId, sparkOpts) {
  const status = kpiStatus(kpi);
  const label = el('span', 'kpi-label');
  const dot = el('span', `status-dot status-${status}`);
  dot.setAttribute('aria-hidden', 'true');
  const text = el('span', 'kpi-label-text', kpi.label || kpi.key);
  text.title = kpi.label || kpi.key;
  label.append(dot, text);
  if (status !== 'ok') {
    const s = el('span', 'sr-only', ` (${status})`);
    label.appendChild(s);
  }
  const value = el('span', `kpi-value value-${status}`, formatValue(kpi));
  if (testId) value.dataset.testid = testId;
  const delta = deltaChip(kpi.delta);
  const spark = sparklineSvg(history && history.length ? history : [kpi.value], sparkOpts);
  return { status, label, value, delta, spark };
}
