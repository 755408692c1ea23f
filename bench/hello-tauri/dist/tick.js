// With `hello-tauri --tick MS`: four numbers change every MS ms, as the four
// values of one KPI card do under a KPI update; the floor of what a changed
// number costs WebKit to draw (no IPC, no layout beyond the four texts).
const every = window.__HELLO_TICK_MS;
if (every > 0) {
  const spans = [...document.querySelectorAll('#numbers span')];
  const format = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
  let n = 0;
  setInterval(() => {
    n += 1;
    spans.forEach((s, k) => {
      s.textContent = format.format(1_000_000 + ((n * 7919 * (k + 1)) % 100_000) / 100);
    });
  }, every);
}
