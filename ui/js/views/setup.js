// First-run setup: shown over the window while no server is configured
// (Rust decides: `setup_needed`). Server URL, token, "Test connection" (the
// answer comes from Rust's `test_connection`), then save. Until then the
// window behind shows demo data, labelled as such by the pill.
//
// Self-contained: index.html loads it next to main.js; it draws only its own
// dialog, with text set through textContent (no HTML from anywhere).

import * as ipc from '../ipc.js';
import { el, setText } from '../dom.js';

function field(labelText, input, hint) {
  const label = el('label', 'setup-field');
  label.append(el('span', 'setup-label', labelText), input);
  if (hint) label.append(el('span', 'setup-hint', hint));
  return label;
}

function input(type, testid, attrs = {}) {
  const i = el('input', 'setup-input');
  i.type = type;
  i.dataset.testid = testid;
  for (const [k, v] of Object.entries(attrs)) i.setAttribute(k, v);
  return i;
}

function button(text, testid, className = 'setup-button') {
  const b = el('button', className, text);
  b.type = 'button';
  b.dataset.testid = testid;
  return b;
}

/** Build the dialog for `settings` (from get_settings). Returns its root. */
export function buildSetup(doc, settings, api = ipc) {
  const root = doc.createElement('div');
  root.className = 'setup-backdrop';
  root.dataset.testid = 'setup';

  const form = el('form', 'setup-card');
  form.setAttribute('role', 'dialog');
  form.setAttribute('aria-modal', 'true');
  form.setAttribute('aria-labelledby', 'setup-title');
  form.noValidate = true;

  const title = el('h2', 'setup-title', 'Connect to your Pulseboard server');
  title.id = 'setup-title';
  const lead = el(
    'p',
    'setup-lead',
    'Pulseboard shows live figures from a Pulseboard server. Until you connect one, what you see behind this is demo data.',
  );

  const server = input('url', 'setup-server', {
    placeholder: 'https://pulse.example.com',
    autocomplete: 'url',
    spellcheck: 'false',
  });
  server.value = settings && typeof settings.server === 'string' ? settings.server : '';
  const token = input('password', 'setup-token', { autocomplete: 'off' });
  token.placeholder = settings && settings.hasToken ? 'A token is set (type to replace it)' : 'From the server\u2019s operator';
  const ca = input('text', 'setup-ca', { autocomplete: 'off', spellcheck: 'false' });
  ca.placeholder = 'None: the system\u2019s certificates only';
  ca.value = settings && typeof settings.ca === 'string' ? settings.ca : '';
  // Rust's warning when a token would go over plain http:// to a host that
  // is not loopback (`plain_http_warning`), under the server field.
  const warning = el('p', 'setup-warning');
  warning.setAttribute('role', 'alert');
  warning.dataset.testid = 'setup-plain-http-warning';
  warning.hidden = true;
  const login = input('checkbox', 'setup-login');
  login.checked = Boolean(settings && settings.startAtLogin);
  const loginLabel = el('label', 'setup-check');
  loginLabel.append(login, el('span', '', 'Start at login (in the tray, without opening this window)'));

  const result = el('p', 'setup-result');
  result.setAttribute('role', 'status');
  result.setAttribute('aria-live', 'polite');
  result.dataset.testid = 'setup-result';

  const skip = button('Use demo data for now', 'setup-skip', 'setup-button setup-quiet');
  const test = button('Test connection', 'setup-test');
  const save = button('Save and connect', 'setup-save', 'setup-button setup-primary');
  save.type = 'submit';
  const actions = el('div', 'setup-actions');
  actions.append(skip, test, save);

  form.append(
    title,
    lead,
    field('Server URL', server),
    warning,
    field('Token', token, 'Leave empty if the server needs none.'),
    field(
      'Certificate authority (PEM file)',
      ca,
      'Only for a server whose certificate comes from a private authority: the absolute path of its PEM file.',
    ),
    loginLabel,
    result,
    actions,
  );
  root.append(form);

  const show = (kind, text) => {
    result.dataset.kind = kind;
    setText(result, text);
  };
  const busy = (on) => {
    for (const b of [skip, test, save]) b.disabled = on;
  };

  let asked = 0;
  const recheck = async () => {
    if (typeof api.plainHttpWarning !== 'function') return;
    const n = ++asked;
    const hasToken = token.value.trim() !== '' || Boolean(settings && settings.hasToken);
    let text = null;
    try {
      text = await api.plainHttpWarning(server.value.trim(), hasToken);
    } catch {
      text = null;
    }
    if (n !== asked) return;
    const on = typeof text === 'string' && text !== '';
    setText(warning, on ? text : '');
    warning.hidden = !on;
  };
  server.addEventListener('input', recheck);
  token.addEventListener('input', recheck);
  recheck();

  test.addEventListener('click', async () => {
    busy(true);
    show('pending', 'Testing\u2026');
    try {
      const r = await api.testConnection(server.value.trim(), token.value.trim() || null, ca.value.trim() || null);
      show(r && typeof r.kind === 'string' ? r.kind : 'error', r && r.message ? r.message : 'No answer.');
    } catch (err) {
      show('error', ipc.errorMessage(err));
    } finally {
      busy(false);
    }
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    busy(true);
    const next = {
      server: server.value.trim(),
      hasToken: Boolean(settings && settings.hasToken),
      dnd: (settings && settings.dnd) || 'off',
      notifyThreshold: (settings && settings.notifyThreshold) || 'off',
      startAtLogin: login.checked,
    };
    if (token.value.trim() !== '') next.token = token.value.trim();
    if (ca.value.trim() !== '') next.ca = ca.value.trim();
    try {
      await api.saveSettings(next);
      root.remove();
    } catch (err) {
      show('error', ipc.errorMessage(err));
      busy(false);
    }
  });

  skip.addEventListener('click', () => root.remove());
  root.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') root.remove();
  });
  return { root, focus: () => server.focus() };
}

/** Ask Rust whether a setup is needed; if so, show it. */
export async function startSetup(doc = document, api = ipc) {
  let needed = false;
  try {
    needed = (await api.setupNeeded()) === true;
  } catch {
    // No shell (browser preview) or an older shell: nothing to set up here.
    return null;
  }
  if (!needed) return null;
  let settings = null;
  try {
    settings = await api.getSettings();
  } catch {
    settings = null;
  }
  const setup = buildSetup(doc, settings, api);
  doc.body.append(setup.root);
  setup.focus();
  return setup.root;
}

if (typeof document !== 'undefined') startSetup();
