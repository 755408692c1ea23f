// With `hello-tauri --ipc-tick MS`: Rust sends a message every MS ms over a
// channel this page gives it (the `subscribe` command), and the page sets its
// four numbers from it (textContent), nothing else: the floor of a changed
// number that comes from Rust over Tauri's IPC. A message is Pulseboard's
// update batch (the four values of its first message's KPIs) or, with
// `--payload tiny`, the four numbers alone.
//
// The channel is what `new window.__TAURI__.core.Channel()` makes (Pulseboard
// has `withGlobalTauri`; this app does not, so as not to load Tauri's global
// bundle into the other hello-world cases): a callback registered with
// `transformCallback`, passed as `__CHANNEL__:<id>`, taking `{ message, index }`
// and handing messages on in index order.
if (window.__HELLO_IPC) {
  const spans = [...document.querySelectorAll('#numbers span')];
  const format = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
  const show = (msg) => {
    const values = typeof msg[0] === 'number' ? msg : msg[0].data.kpis.map((k) => k.value);
    spans.forEach((s, k) => {
      s.textContent = format.format(values[k]);
    });
  };
  const early = {};
  let next = 0;
  const internals = window.__TAURI_INTERNALS__;
  const id = internals.transformCallback(({ message, index }) => {
    if (index !== next) {
      early[index] = message;
      return;
    }
    show(message);
    next += 1;
    while (next in early) {
      show(early[next]);
      delete early[next];
      next += 1;
    }
  });
  internals.invoke('subscribe', { channel: `__CHANNEL__:${id}` });
}
