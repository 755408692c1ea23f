// Notification panel: newest first, capped, keyed so only changed items are rebuilt.

import { appendLinked, el, setText } from '../dom.js';
import {
  MAX_RENDERED_NOTIFICATIONS,
  MODULE_LABELS,
  filterNotifications,
  formatTime,
  parseTime,
  unreadCount,
} from '../state.js';

/** Bodies longer than this are clamped to a few lines with "Show more". */
export const CLAMP_CHARS = 160;

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

  const title = appendLinked(el('p', 'n-title'), n.title);
  title.dir = 'auto';
  const text = appendLinked(el('p', 'n-text'), n.body);
  text.dir = 'auto';
  body.append(meta, title, text);
  if (n.body.length > CLAMP_CHARS || n.body.split('\n').length > 3) {
    // Clamped; the detail (the whole text) opens in place.
    text.classList.add('clamp');
    text.id = `n-text-${n.id}`;
    const more = el('button', 'link-btn', 'Show more');
    more.type = 'button';
    more.dataset.testid = 'notification-more';
    more.dataset.toggle = n.id;
    more.setAttribute('aria-expanded', 'false');
    more.setAttribute('aria-controls', text.id);
    body.append(more);
  }
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

/** Wire the list's buttons once (event delegation). `onFilter()` redraws. */
export function bindNotifications(root, { onMarkRead, onMarkAllRead, onFilter, fallbackFocus }) {
  const list = root.querySelector('#notification-list');
  list.addEventListener('click', (e) => {
    const toggle = e.target instanceof Element ? e.target.closest('button[data-toggle]') : null;
    if (toggle && list.contains(toggle)) {
      const open = toggle.getAttribute('aria-expanded') !== 'true';
      toggle.setAttribute('aria-expanded', String(open));
      toggle.textContent = open ? 'Show less' : 'Show more';
      const text = toggle.closest('li').querySelector('.n-text');
      text.classList.toggle('clamp', !open);
      return;
    }
    const btn = e.target instanceof Element ? e.target.closest('button[data-id]') : null;
    if (!btn || !list.contains(btn)) return;
    const li = btn.closest('li');
    // Keep keyboard focus in the list when the button goes away, without
    // scrolling the list.
    let next = li && li.nextElementSibling;
    while (next && !next.querySelector('button[data-id]')) next = next.nextElementSibling;
    const nextId = next ? next.dataset.id : null;
    onMarkRead(btn.dataset.id);
    requestAnimationFrame(() => {
      requestAnimationFrame(() => {
        if (document.activeElement && document.activeElement !== document.body && document.activeElement.isConnected) {
          return;
        }
        const target = nextId ? list.querySelector(`li[data-id="${CSS.escape(nextId)}"] button[data-id]`) : null;
        if (target) target.focus({ preventScroll: true });
        else fallbackFocus();
      });
    });
  });
  root.querySelector('#mark-all-read').addEventListener('click', () => onMarkAllRead());
  root.querySelector('#notification-filter').addEventListener('change', () => onFilter());
  root.querySelector('#notification-search').addEventListener('input', () => onFilter());
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
  const severity = root.querySelector('#notification-filter').value || 'all';
  const query = root.querySelector('#notification-search').value || '';
  const filtered = severity !== 'all' || query.trim() !== '';
  const { items: shown, matched } = filterNotifications(
    state,
    { severity, query },
    MAX_RENDERED_NOTIFICATIONS,
  );
  let summary;
  if (total === 0) summary = 'No notifications';
  else {
    summary = `${unread} unread of ${total}`;
    if (filtered) summary += ` · ${matched} match${matched === 1 ? '' : 'es'}`;
    if (matched > MAX_RENDERED_NOTIFICATIONS) summary += ` (showing the latest ${MAX_RENDERED_NOTIFICATIONS})`;
  }
  setText(root.querySelector('#notification-summary'), summary);
  // Stays focusable when there is nothing to mark, so Enter never drops focus.
  root.querySelector('#mark-all-read').setAttribute('aria-disabled', String(unread === 0));
  const key = `${severity}\u0000${query}`;
  const list = root.querySelector('#notification-list');
  if (prev && prev.notifications === state.notifications && list.dataset.filter === key) return;
  list.dataset.filter = key;

  let byId = cache.get(list);
  if (!byId) {
    byId = new Map();
    cache.set(list, byId);
  }
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
  root.querySelector('#notification-empty').hidden = total > 0;
  root.querySelector('#notification-nomatch').hidden = !(total > 0 && nodes.length === 0);
}
