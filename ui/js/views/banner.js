// Critical alert banner: the latest critical alert the user has not dismissed.

import { setText } from '../dom.js';
import { activeCriticalAlert, formatTime } from '../state.js';

/** Wire the dismiss button once. `onDismiss(id)` is called with the alert id. */
export function bindBanner(root, { onDismiss }) {
  const banner = root.querySelector('#alert-banner');
  root.querySelector('#banner-dismiss').addEventListener('click', () => {
    if (banner.dataset.alertId) onDismiss(banner.dataset.alertId);
  });
}

/** Show or hide the banner. `root` contains #alert-banner. Returns the alert shown. */
export function renderBanner(root, state) {
  const banner = root.querySelector('#alert-banner');
  const alert = activeCriticalAlert(state);
  if (!alert) {
    banner.hidden = true;
    delete banner.dataset.alertId;
    return null;
  }
  banner.dataset.alertId = alert.id;
  setText(root.querySelector('#banner-title'), alert.title || 'Critical alert');
  setText(root.querySelector('#banner-message'), alert.message || '');
  const time = root.querySelector('#banner-time');
  setText(time, alert.createdAt ? formatTime(alert.createdAt) : '');
  root.querySelector('#banner-dismiss').setAttribute('aria-label', `Dismiss alert: ${alert.title || 'critical alert'}`);
  banner.hidden = false;
  return alert;
}
