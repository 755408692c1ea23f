// Notification panel: newest first, capped, keyed so only changed items are rebuilt.

import { el, setText } from '../dom.js';
import {
  MAX_RENDERED_NOTIFICATIONS,
  MODULE_LABELS,
  formatTime,
  notificationsNewestFirst,
  parseTime,
  unreadCount,
} from '../state.js';

const SEVERITY_LABELS = { info: 'Info', success: 'Success', warning: 'Warning', error: 'Error' };
const dateFmt = new Intl.DateTimeFormat('en-US', { month: 'short', day: 'numeric' });

const cache = new WeakMap(); // list element -> Map(id -> { n, node })

function when(iso, nowMs) {
  const t = parseTime(iso);
  if (Number.isNaN(t)) return '';
  const d = new Date(t);
  const today = new Date(nowMs);
  const sameDay =
    d.getFullYear() === today.getFullYear() &&
    d.getMonth() === today.getMonth() &&
    d.getDate() === today.getDate();
  return sameDay ? formatTime(t) : `${dateFmt.format(d)}, ${formatTime(t)}`;
}

function item(n, nowMs) {
  const li = el('li', `notification sev-${n.severity}${n.read ? ' is-read' : ' is-unread'}`);
  li.dataset.testid = 'notification-item';
  li.dataset.id = n.id;
  li.dataset.read = String(n.read);

  const body = el('div', 'n-body');
  const meta = el('div', 'n-meta');
  meta.append(el('span', `sev-label sev-label-${n.severity}`, SEVERITY_LABELS[n.severity] || 'Info'));
  if (n.module) meta.append(el('span', 'n-module', MODULE_LABELS[n.module] || n.module));
  const time = el('time', 'n-time', when(n.createdAt, nowMs));
  if (n.createdAt) time.dateTime = n.createdAt;
  meta.append(time);
  if (!n.read) meta.append(el('span', 'sr-only', ', unread'));

  body.append(meta, el('p', 'n-title', n.title), el('p', 'n-text', n.body));
  li.append(body);

  if (!n.read) {
    const btn = el('button', 'btn btn-small', 'Mark read');
    btn.type = 'button';
    btn.dataset.testid = 'mark-read';
    btn.dataset.id = n.id;
    btn.setAttribute('aria-label', `Mark "${n.title}" as read`);
    li.append(btn);
  } else {
    li.append(el('span', 'n-read-label', 'Read'));
  }
  return li;
}

/** Wire the list's buttons once (event delegation). */
export function bindNotifications(root, { onMarkRead, onMarkAllRead }) {
  const list = root.querySelector('#notification-list');
  list.tabIndex = -1;
  list.addEventListener('click', (e) => {
    const btn = e.target instanceof Element ? e.target.closest('button[data-id]') : null;
    if (!btn || !list.contains(btn)) return;
    const li = btn.closest('li');
    // Keep keyboard focus in the list when the button goes away.
    const next = li && (li.nextElementSibling || li.previousElementSibling);
    onMarkRead(btn.dataset.id);
    requestAnimationFrame(() => {
      requestAnimationFrame(() => {
        const target = next && next.isConnected ? next.querySelector('button[data-id]') : null;
        (target || list).focus();
      });
    });
  });
  root.querySelector('#mark-all-read').addEventListener('click', () => onMarkAllRead());
}

/** Update the unread badge (count; hidden at 0). */
export function renderBadge(badge, state) {
  const n = unreadCount(state);
  badge.hidden = n === 0;
  setText(badge, n > 999 ? '999+' : String(n));
  badge.setAttribute('aria-label', `${n} unread`);
}

/**
 * Render the list into the view `root`. Items are keyed by id; an item is
 * rebuilt only when its notification object changed.
 */
export function renderNotifications(root, state, prev, nowMs = Date.now()) {
  const unread = unreadCount(state);
  const total = state.notifications.length;
  setText(
    root.querySelector('#notification-summary'),
    total === 0
      ? 'No notifications'
      : `${unread} unread of ${total}${total > MAX_RENDERED_NOTIFICATIONS ? ` (showing the latest ${MAX_RENDERED_NOTIFICATIONS})` : ''}`,
  );
  root.querySelector('#mark-all-read').disabled = unread === 0;
  if (prev && prev.notifications === state.notifications) return;

  const list = root.querySelector('#notification-list');
  let byId = cache.get(list);
  if (!byId) {
    byId = new Map();
    cache.set(list, byId);
  }
  const shown = notificationsNewestFirst(state, MAX_RENDERED_NOTIFICATIONS);
  const keep = new Set();
  const nodes = shown.map((n) => {
    keep.add(n.id);
    let entry = byId.get(n.id);
    if (!entry || entry.n !== n) {
      const node = item(n, nowMs);
      if (entry && entry.node.parentNode === list) list.replaceChild(node, entry.node);
      entry = { n, node };
      byId.set(n.id, entry);
    }
    return entry.node;
  });
  for (const id of byId.keys()) if (!keep.has(id)) byId.delete(id);

  // Minimal DOM moves: new items usually arrive on top and old ones fall off
  // the bottom, so most nodes stay where they are.
  let cursor = list.firstChild;
  for (const node of nodes) {
    if (node === cursor) {
      cursor = cursor.nextSibling;
    } else {
      list.insertBefore(node, cursor);
    }
  }
  while (cursor) {
    const next = cursor.nextSibling;
    list.removeChild(cursor);
    cursor = next;
  }
  root.querySelector('#notification-empty').hidden = nodes.length > 0;
}
