// When the page's clock texts ("just now", "3 min ago", a date after
// midnight) next change, so the page wakes only then: an idle window with
// nothing about to change on screen runs no timer at all.
//
// No DOM, no timers. A view names the times it shows (`homeTimes` and the
// like); it draws each with `formatWhen` and `formatRelative` (state.js),
// which alone decide what the texts say. The moments they may change at
// come from `textChangesAfter`, kept beside them, and each is checked with
// the formatters themselves: a handful of calls per wake-up, not a search.

import { formatRelative, formatWhen, textChangesAfter } from './state.js';

/** Never look further ahead than this; a timer at the horizon looks again. */
export const CLOCK_HORIZON_MS = 6 * 3600 * 1000;

/** The clock texts of `times` at epoch ms `t`, as the views draw them. */
export function clockTexts(times, t) {
  return times.map((x) => `${formatWhen(x, t)}|${formatRelative(x, t)}`).join('|');
}

/**
 * Milliseconds from `nowMs` until the clock texts of `times` (ISO strings or
 * epoch ms) first differ from now's; [CLOCK_HORIZON_MS] when not before it
 * (look again then); null when there are no times. Each time is checked on
 * its own (its texts at its own moments), so a long alert list costs a few
 * calls per alert, not per alert and moment.
 */
export function nextClockChange(times, nowMs) {
  const shown = [...new Set(times.filter((x) => x !== undefined && x !== null && x !== ''))];
  if (shown.length === 0) return null;
  let next = CLOCK_HORIZON_MS;
  for (const x of shown) {
    const current = clockTexts([x], nowMs);
    for (const c of textChangesAfter(x, nowMs)) {
      if (c - nowMs >= next) break;
      if (clockTexts([x], c) !== current) {
        next = c - nowMs;
        break;
      }
    }
  }
  return next;
}
