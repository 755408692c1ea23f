// Alerts view: the alert history kept by Rust (every severity), newest first,
// with when each came and whether it was acknowledged.

import { appendLinked, el, setText } from '../dom.js';
import { alertsNewestFirst, formatRelative, formatWhen, isAcknowledged, openAlertCount } from '../state.js';

const LABELS = { critical: 'Critical', warning: 'Warning', info: 'Info' };

function item(a, acked, nowMs) {
  const li = el('li', `notification alert-item sev-${a.severity}${acked ? ' is-read' : ' is-unread'}`);
  li.dataset.testid = 'alert-item';
  li.dataset.id = a.id;
  li.dataset.severity = a.severity;
  li.dataset.acknowledged = String(acked);
  const body = el('div', 'n-body');
  const meta = el('div', 'n-meta');
  meta.append(el('span', `sev-label sev-label-${a.severity}`, LABELS[a.severity] || 'Info'));
  const time = el('time', 'n-time', formatWhen(a.createdAt, nowMs));
  if (a.createdAt) {
    time.dateTime = a.createdAt;
    time.title = formatRelative(a.createdAt, nowMs);
  }
  meta.append(time, el('span', 'n-state', acked ? 'Acknowledged' : 'Open'));
  const title = appendLinked(el('p', 'n-title'), a.title || 'Alert');
  title.dir = 'auto';
  const text = appendLinked(el('p', 'n-text clamp'), a.message);
  text.dir = 'auto';
  text.title = a.message;
  body.append(meta, title, text);
  li.append(body);
  if (!acked) {
    const btn = el('button', 'btn btn-small', 'Acknowledge');
    btn.type = 'button';
    btn.dataset.testid = 'alert-ack';
    btn.dataset.id = a.id;
    btn.setAttribute('aria-label', `Acknowledge "${a.title}"`);
    li.append(btn);
  }
  return li;
}

/** Wire the view once: `onAck(id)`, `onAckAll()`, `onFilter()` (redraw). */
export function bindAlerts(root, { onAck, onAckAll, onFilter }) {
  const list = root.querySelector('#alert-list');
  list.addEventListener('click', (e) => {
    const btn = e.target instanceof Element ? e.target.closest('button[data-id]') : null;
    if (!btn || !list.contains(btn)) return;
    onAck(btn.dataset.id, btn);
  });
  root.querySelector('#ack-all').addEventListener('click', () => onAckAll());
  root.querySelector('#alert-filter').addEventListener('change', () => onFilter());
}

/** Draw the history (rebuilt: at most MAX_ALERTS items). */
export function renderAlerts(root, state, nowMs = Date.now()) {
  const severity = root.querySelector('#alert-filter').value || 'all';
  const shown = alertsNewestFirst(state, severity);
  const open = openAlertCount(state);
  const total = state.alerts.length;
  setText(
    root.querySelector('#alert-summary'),
    total === 0 ? 'No alerts' : `${open} open of ${total}${severity === 'all' ? '' : ` · ${shown.length} shown`}`,
  );
  const ackAll = root.querySelector('#ack-all');
  // Stays focusable when there is nothing to do, so focus is never dropped.
  ackAll.setAttribute('aria-disabled', String(open === 0));
  const list = root.querySelector('#alert-list');
  list.replaceChildren(...shown.map((a) => item(a, isAcknowledged(state, a.id), nowMs)));
  const empty = root.querySelector('#alert-empty');
  empty.hidden = shown.length > 0;
  setText(empty, total === 0 ? 'No alerts. Critical, warning and info alerts from the server are listed here.' : 'No alert of this severity.');
}

/** The alerts badge in the navigation: open alerts of any severity. */
export function renderAlertsBadge(badge, state) {
  const n = openAlertCount(state);
  badge.hidden = n === 0;
  setText(badge, n > 99 ? '99+' : String(n));
  badge.setAttribute('aria-label', `${n} open`);
}

/** The times the alert list shows as clock texts (see clock.js). */
export function alertsTimes(state) {
  return state.alerts.map((a) => a.createdAt);
}
