// Typed-array views over the binary arguments (Uint8Array from Streamlit).

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
