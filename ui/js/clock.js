// When the page's clock texts ("just now", "3 min ago", a date after
// midnight) next change, so the page wakes only then: an idle window with
// nothing about to change on screen runs no timer at all.
//
// Pure: no DOM, no timers. `shown(t)` gives the texts the view would show at
// epoch ms `t` (any string; the formatters in state.js decide what it says);
// this only finds when that string first differs from now's.

/** Precision of the search: a text may change up to this late. */
export const CLOCK_STEP_MS = 500;
/** Never look further ahead than this; a timer at the horizon looks again. */
export const CLOCK_HORIZON_MS = 6 * 3600 * 1000;

/**
 * Milliseconds from `nowMs` until `shown(t)` first differs from `shown(nowMs)`,
 * at most [CLOCK_HORIZON_MS] (nothing changes before it: look again then);
 * null when there is nothing to show (`shown` gives '').
 *
 * The texts never come back to an earlier value as time goes on, so "differs
 * from now's" is false, then true: probe 1 s, 2 s, 4 s, ... ahead, then halve
 * the gap between the last same and the first different probe.
 */
export function nextClockChange(shown, nowMs) {
  const current = shown(nowMs);
  if (!current) return null;
  const differs = (dt) => shown(nowMs + dt) !== current;
  let same = 0;
  let diff = 1000;
  while (!differs(diff)) {
    same = diff;
    if (diff >= CLOCK_HORIZON_MS) return CLOCK_HORIZON_MS;
    diff = Math.min(diff * 2, CLOCK_HORIZON_MS);
  }
  while (diff - same > CLOCK_STEP_MS) {
    const mid = Math.floor((same + diff) / 2);
    if (differs(mid)) diff = mid;
    else same = mid;
  }
  return diff;
}
