// Pure sparkline geometry: values -> SVG path data. No DOM here.

export const DEFAULT_WIDTH = 100;
export const DEFAULT_HEIGHT = 28;
export const DEFAULT_PAD = 2;

function round(n) {
  return Math.round(n * 100) / 100;
}

/**
 * Geometry for a sparkline of `values` (oldest first).
 *
 * Returns `{ viewBox, d, area, points, last }`:
 * - `viewBox`: `"0 0 W H"`;
 * - `d`: the line (`M x,y L x,y ...`), empty for no data;
 * - `area`: the line closed down to the bottom edge (for a soft fill), empty
 *   for one point or a flat series;
 * - `points`: the `[x, y]` pairs used;
 * - `last`: the last point, or null.
 *
 * Larger values are higher (smaller y). One point, or a flat series, draws a
 * horizontal line across the middle. Non-finite values are skipped.
 */
export function sparkline(values, opts = {}) {
  const width = opts.width ?? DEFAULT_WIDTH;
  const height = opts.height ?? DEFAULT_HEIGHT;
  const pad = opts.pad ?? DEFAULT_PAD;
  const viewBox = `0 0 ${width} ${height}`;
  const vals = Array.isArray(values)
    ? values.filter((v) => typeof v === 'number' && Number.isFinite(v))
    : [];
  if (vals.length === 0) return { viewBox, d: '', area: '', points: [], last: null };

  const mid = round(height / 2);
  if (vals.length === 1) {
    const d = `M0,${mid} L${width},${mid}`;
    return { viewBox, d, area: '', points: [[0, mid], [width, mid]], last: [width, mid] };
  }
  let min = Infinity;
  let max = -Infinity;
  for (const v of vals) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const span = max - min;
  const step = width / (vals.length - 1);
  const usable = height - 2 * pad;
  // One pass: the points and the line's path text together.
  const points = new Array(vals.length);
  let d = '';
  for (let i = 0; i < vals.length; i += 1) {
    const x = round(i * step);
    const y = span === 0 ? mid : round(pad + (1 - (vals[i] - min) / span) * usable);
    points[i] = [x, y];
    d += `${i === 0 ? 'M' : ' L'}${x},${y}`;
  }
  const last = points[points.length - 1];
  // A flat line gets no fill: a half-height block would read as data.
  const area = span === 0 ? '' : `${d} L${last[0]},${height} L${points[0][0]},${height} Z`;
  return { viewBox, d, area, points, last };
}
