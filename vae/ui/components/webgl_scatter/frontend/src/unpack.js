// Typed-array views over the binary arguments (Uint8Array from Streamlit), and fitting points to the canvas.

export function f32(u8) {   // a Float32Array over bytes (copied when not 4-byte aligned)
  if (!u8) return null;
  const b = u8.byteOffset % 4 === 0 ? u8 : u8.slice();
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}
export function u16(u8) {
  if (!u8) return null;
  const b = u8.byteOffset % 2 === 0 ? u8 : u8.slice();
  return new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
}

// regl-scatterplot's points: [x, y, category] (colour by category), [x, y, 0, value] (colour by value); it
// keeps these arrays (lasso, hover), so one small array a point is its price (3 numbers where 4 are not needed)
export function pointArrays(xy, cat, val, n) {
  const pts = new Array(n);
  if (val) {
    for (let i = 0; i < n; i++) pts[i] = [xy[2 * i], xy[2 * i + 1], 0, val[i]];
  } else if (cat) {
    for (let i = 0; i < n; i++) pts[i] = [xy[2 * i], xy[2 * i + 1], cat[i]];
  } else {
    for (let i = 0; i < n; i++) pts[i] = [xy[2 * i], xy[2 * i + 1], 0];
  }
  return pts;
}

// args.fit (the live map): the points scaled by one factor (their shape kept) so that (nearly) all of them fill
// the canvas, whose view spans [-w/h, w/h] x [-1, 1] (regl-scatterplot: [-1, 1] on the height); the 0.5% and
// 99.5% of |x| and |y| set the factor (a few outliers may fall outside), 4% margin. A new array.
export function fitXy(xy, aspect) {
  const n = xy.length / 2;
  if (!n) return xy;
  const ax = new Float32Array(n), ay = new Float32Array(n);
  for (let i = 0; i < n; i++) { ax[i] = Math.abs(xy[2 * i]); ay[i] = Math.abs(xy[2 * i + 1]); }
  ax.sort(); ay.sort();
  const q = Math.min(n - 1, Math.floor(0.995 * n));
  const s = 0.96 * Math.min(aspect / Math.max(ax[q], 1e-9), 1 / Math.max(ay[q], 1e-9));
  const out = new Float32Array(xy.length);
  for (let i = 0; i < xy.length; i++) out[i] = xy[i] * s;
  return out;
}
