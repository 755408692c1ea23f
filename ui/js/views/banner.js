// Critical alert banner: the newest critical alert not acknowledged yet, how
// many more there are, Dismiss and Dismiss all. Acknowledging is Rust's
// (`acknowledge_alerts`); the banner only draws `state.acknowledgedAlerts`.

import { setText } from '../dom.js';
import { formatWhen, openCriticalAlerts } from '../state.js';

/**
 * Wire the buttons once. `onDismiss(id)`, `onDismissAll()` and `onMore()`
 * (show the alerts view) are called on click.
 */
export function bindBanner(root, { onDismiss, onDismissAll, onMore }) {
  const banner = root.querySelector('#alert-banner');
  root.querySelector('#banner-dismiss').addEventListener('click', () => {
    if (banner.dataset.alertId) onDismiss(banner.dataset.alertId);
  });
  root.querySelector('#banner-dismiss-all').addEventListener('click', () => onDismissAll());
  root.querySelector('#banner-more').addEventListener('click', () => onMore());
}

/** Show or hide the banner. `root` contains #alert-banner. Returns the alert shown. */
export function renderBanner(root, state, nowMs = Date.now()) {
  const banner = root.querySelector('#alert-banner');
  const open = openCriticalAlerts(state);
  const alert = open[0];
  if (!alert) {
    banner.hidden = true;
    delete banner.dataset.alertId;
    return null;
  }
  banner.dataset.alertId = alert.id;
  banner.dataset.open = String(open.length);
  const title = root.querySelector('#banner-title');
  const message = root.querySelector('#banner-message');
  setText(title, alert.title || 'Critical alert');
  setText(message, alert.message || '');
  // Clamped to a few lines: the whole text in a tooltip and in the alerts view.
  title.title = alert.title || '';
  message.title = alert.message || '';
  setText(root.querySelector('#banner-time'), alert.createdAt ? formatWhen(alert.createdAt, nowMs) : '');
  const more = root.querySelector('#banner-more');
  const others = open.length - 1;
  more.hidden = others === 0;
  setText(more, others > 0 ? `+${others} more` : '');
  more.setAttribute(
    'aria-label',
    others > 0 ? `${others} more critical alert${others > 1 ? 's' : ''}: show all alerts` : '',
  );
  root.querySelector('#banner-dismiss-all').hidden = others === 0;
  root
    .querySelector('#banner-dismiss')
    .setAttribute('aria-label', `Dismiss alert: ${alert.title || 'critical alert'}`);
  banner.hidden = false;
  return alert;
}
