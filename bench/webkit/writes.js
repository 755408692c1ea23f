// DOM writes in the module cards per 100 ticks of 100 ms, by kind, for bench/webkit/run.sh:
//   EXTRA_JS="$(cat bench/webkit/writes.js)" SHOW_LOG=MUT bench/webkit/run.sh finance10 12
// (same): attribute writes that left the value as it was (BENCHMARKS.md section 3).
(() => {
  const grid = document.querySelector('#module-grid');
  let n = 0; const c = {}; let same = 0;
  const mo = new MutationObserver((recs) => {
    for (const r of recs) {
      let k = r.type;
      if (r.type === 'attributes') {
        k += ':' + r.attributeName;
        if (r.target.getAttribute(r.attributeName) === r.oldValue) { same++; k += '(same)'; }
      }
      if (r.type === 'childList') k += ':' + r.target.className;
      c[k] = (c[k] || 0) + 1;
    }
  });
  mo.observe(grid, { subtree: true, attributes: true, attributeOldValue: true, childList: true, characterData: true });
  const t = setInterval(() => {
    n++;
    if (n === 100) {
      console.log('MUT per 100 ticks of 100ms ' + JSON.stringify(c) + ' same=' + same);
      clearInterval(t);
    }
  }, 100);
})();
