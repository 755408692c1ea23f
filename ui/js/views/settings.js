// Settings view: a form over get_settings / save_settings plus "Reconnect now".
//
// The form is filled from settings only when the view opens or after a save,
// never while the user is typing. The token is write-only: it is sent only
// when the user typed a new one. The certificate authority (`ca`) is a path;
// empty removes it. Next to the server field, the warning Rust gives
// (`plain_http_warning`) when a token would go over plain http:// to a host
// that is not loopback.

import { setText } from '../dom.js';

const DND = ['off', 'on', 'silence_all'];
const THRESHOLDS = ['off', 'info', 'success', 'warning', 'error'];

function fields(root) {
  return {
    form: root.querySelector('#settings-form'),
    server: root.querySelector('#set-server'),
    token: root.querySelector('#set-token'),
    dnd: root.querySelector('#set-dnd'),
    threshold: root.querySelector('#set-threshold'),
    login: root.querySelector('#set-login'),
    clearToken: root.querySelector('#set-clear-token'),
    clearTokenField: root.querySelector('#clear-token-field'),
    save: root.querySelector('#settings-save'),
    reconnect: root.querySelector('#reconnect'),
    status: root.querySelector('#settings-status'),
    detail: root.querySelector('#connection-detail'),
    ca: root.querySelector('#set-ca'),
    warning: root.querySelector('#set-server-warning'),
  };
}

/** Show (or hide, for null/empty) the plain-http warning next to the server field. */
export function showPlainHttpWarning(root, text) {
  const f = fields(root);
  if (!f.warning) return;
  const on = typeof text === 'string' && text !== '';
  setText(f.warning, on ? text : '');
  f.warning.hidden = !on;
  if (on) f.server.setAttribute('aria-describedby', 'set-server-help set-server-warning');
  else f.server.setAttribute('aria-describedby', 'set-server-help');
}

/** Whether a token would be sent with the form as it is. */
function tokenGiven(f, current) {
  if (f.token.value.trim() !== '') return true;
  return Boolean(current && current.hasToken) && !f.clearToken.checked;
}

/**
 * Put `settings` into the form (token field cleared, placeholder says if one
 * is set). With `keepEdits`, a form the user has already typed into since it
 * was last filled is left alone (the answer to the view's get_settings can
 * arrive after the user started typing).
 */
export function fillSettings(root, settings, { keepEdits = false } = {}) {
  const f = fields(root);
  if (!settings) return;
  if (keepEdits && f.form.dataset.edited === 'true') return;
  delete f.form.dataset.edited;
  f.server.value = typeof settings.server === 'string' ? settings.server : '';
  f.token.value = '';
  f.token.placeholder = settings.hasToken
    ? 'A token is set (type to replace it)'
    : 'No token set';
  f.dnd.value = DND.includes(settings.dnd) ? settings.dnd : 'off';
  f.threshold.value = THRESHOLDS.includes(settings.notifyThreshold) ? settings.notifyThreshold : 'warning';
  f.login.checked = settings.startAtLogin === true;
  f.clearToken.checked = false;
  f.clearTokenField.hidden = !settings.hasToken;
  if (f.ca) f.ca.value = typeof settings.ca === 'string' ? settings.ca : '';
  showPlainHttpWarning(root, settings.plainHttpWarning);
}

/** Read the form into a Settings object for save_settings. */
export function readSettings(root, current) {
  const f = fields(root);
  const out = {
    server: f.server.value.trim(),
    hasToken: Boolean(current && current.hasToken),
    dnd: f.dnd.value,
    notifyThreshold: f.threshold.value,
    startAtLogin: f.login.checked,
  };
  // Write-only token: sent only when typed; an empty string removes it.
  if (f.token.value !== '') out.token = f.token.value;
  else if (f.clearToken.checked) out.token = '';
  // Always sent: an empty field removes the certificate authority.
  if (f.ca) out.ca = f.ca.value.trim();
  return out;
}

function showStatus(f, text, kind) {
  f.status.className = `form-status${kind ? ' form-status-' + kind : ''}`;
  setText(f.status, text);
}

/**
 * Wire the form once. `actions`: `save(settings) -> Promise<Settings>`,
 * `reconnect() -> Promise`, `current() -> Settings|null`, `saved(settings)`,
 * `errorText(err) -> string`, `connection() -> the current connection state`,
 * `plainHttpWarning(server, hasToken) -> Promise<string|null>` (optional).
 */
export function bindSettings(root, actions) {
  const f = fields(root);
  const edited = () => {
    f.form.dataset.edited = 'true';
  };
  // Ask Rust again whenever the server or the token changes; only the
  // answer to the latest question is shown.
  let asked = 0;
  const recheck = async () => {
    if (!actions.plainHttpWarning) return;
    const n = ++asked;
    let text = null;
    try {
      text = await actions.plainHttpWarning(f.server.value.trim(), tokenGiven(f, actions.current()));
    } catch {
      text = null;
    }
    if (n === asked) showPlainHttpWarning(root, text);
  };
  f.form.addEventListener('input', edited);
  f.form.addEventListener('change', edited);
  for (const el of [f.server, f.token]) el.addEventListener('input', recheck);
  f.clearToken.addEventListener('change', recheck);
  f.form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const next = readSettings(root, actions.current());
    if (!next.server) {
      showStatus(f, 'Enter the server URL.', 'error');
      f.server.setAttribute('aria-invalid', 'true');
      f.server.focus();
      return;
    }
    f.server.removeAttribute('aria-invalid');
    f.server.removeAttribute('aria-errormessage');
    f.save.disabled = true;
    showStatus(f, 'Saving…', '');
    try {
      const saved = await actions.save(next);
      actions.saved(saved);
      fillSettings(root, saved);
      showStatus(f, 'Saved.', 'ok');
    } catch (err) {
      const text = actions.errorText(err);
      showStatus(f, `Could not save: ${text}`, 'error');
      // Point at the field at fault; whatever else was typed (the token) stays.
      if (/^server\b/i.test(text)) {
        f.server.setAttribute('aria-invalid', 'true');
        f.server.setAttribute('aria-errormessage', 'settings-status');
        f.server.focus();
      }
    } finally {
      f.save.disabled = false;
    }
  });
  f.reconnect.addEventListener('click', async () => {
    f.reconnect.disabled = true;
    // "Reconnecting…" lasts until the attempt has an outcome (see
    // renderSettings), not for ever: it is set before the command so an
    // answer that comes back at once still clears it.
    reconnecting.set(root, actions.connection ? actions.connection() : null);
    showStatus(f, 'Reconnecting…', '');
    try {
      await actions.reconnect();
    } catch (err) {
      reconnecting.delete(root);
      showStatus(f, `Could not reconnect: ${actions.errorText(err)}`, 'error');
    } finally {
      f.reconnect.disabled = false;
    }
  });
}

/** Per settings root: the connection state when "Reconnect now" was clicked. */
const reconnecting = new WeakMap();

/**
 * Live parts of the settings view (connection detail, the outcome of
 * "Reconnect now"), safe to call every frame.
 */
export function renderSettings(root, state) {
  const f = fields(root);
  // Rust's words for the connection (the pill's tooltip).
  const detail = state.connectionView ? state.connectionView.detail : '';
  setText(f.detail, detail ? `Connection: ${detail}` : '');
  if (reconnecting.has(root)) {
    const from = reconnecting.get(root);
    const c = state.connection;
    // Settled: a new state that is not an attempt in progress. The pill and
    // the detail line now say what happened.
    if (c !== from && c && c.state !== 'connecting') {
      reconnecting.delete(root);
      if (f.status.textContent === 'Reconnecting…') showStatus(f, '', '');
    }
  }
}
