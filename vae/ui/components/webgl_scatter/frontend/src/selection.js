// Clicks on empty spots, level of detail while the view moves, and the mouse mode.
import { CLICK_DELAY_MS, LOD_ADAPT_FRAMES, LOD_FRAME_MS, LOD_MIN_POINTS, LOD_POINTS, LOD_REST_FRAMES, LOD_REST_MS, PERFORMANCE_MODE_POINTS, S, canvas, state } from './store.js';
import { sendValue } from './messaging.js';
import { hideHover, hover } from './hover.js';
import { drawOverlay } from './overlay.js';
// ---- a click on an empty spot: its place goes to Python (which decodes it there), unless a double-click follows ----
export function toData(mx, my) {           // CSS px on the canvas -> the normalised coordinates of the points
  const v = S.plot.get('cameraView');                 // column-major 4x4: scale v[0], v[5], translation v[12], v[13]
  const w = canvas.clientWidth, h = canvas.clientHeight;
  const ar = S.plot.get('aspectRatio') || 1;
  const cx = (-1 + (2 * mx) / w) * (w / h), cy = 1 - (2 * my) / h;
  return [(cx - v[12]) / v[0] / ar, (cy - v[13]) / v[5]];
}
export const click = { x: 0, y: 0, seq: 0, timer: null };
canvas.addEventListener('mousedown', (e) => {
  click.x = e.offsetX; click.y = e.offsetY; click.seq = state.seq;
  hover.buttons = true;
  hideHover();
});
window.addEventListener('mouseup', () => { hover.buttons = false; });
// A box (or lasso) starts where the button went down: regl-scatterplot starts it at the first mouse move after
// that (its mousedown only arms the lasso), so a box lacked the few pixels (or, dragged fast, the whole first step)
// between the press and that move. A move at the press, sent once its own mousedown handler (on the canvas) has run.
window.addEventListener('mousedown', (e) => {
  if (!S.plot || e.target !== canvas || e.buttons !== 1 || (S.mode === 'panZoom' && !e.shiftKey)) return;
  window.dispatchEvent(new MouseEvent('mousemove', { clientX: e.clientX, clientY: e.clientY, buttons: 1,
                                                     shiftKey: e.shiftKey }));
});
canvas.addEventListener('click', (e) => {
  if (!S.plot || !S.n || !S.lastArgs.decodes || S.plot.get('mouseMode') !== 'panZoom') return;
  if (Math.hypot(e.offsetX - click.x, e.offsetY - click.y) > 3) return;       // a pan, not a click
  const at = toData(e.offsetX, e.offsetY);
  clearTimeout(click.timer);
  click.timer = setTimeout(() => {
    if (state.seq !== click.seq) return;                 // the click picked a point (or a lasso ended)
    if (S.plot.get('selectedPoints').length) S.plot.deselect({ preventEvent: true });
    state.seq += 1;
    state.kind = 'spot';
    state.points = [];
    state.spot = at;
    S.queryXy = at;
    drawOverlay(false);
    sendValue();
  }, CLICK_DELAY_MS);
});
canvas.addEventListener('dblclick', () => { clearTimeout(click.timer); });
canvas.addEventListener('mouseleave', () => hideHover());

// ---- level of detail: a large map draws a sample while the camera moves, every point at rest ----
// The view counts as resting once LOD_REST_FRAMES animation frames have come without a move, and at least
// LOD_REST_MS since the last one. Counted in frames because the browser paces them by the drawing: WebGL work
// runs in the GPU process after the page's frame has returned, so a slow frame (software WebGL, a busy machine)
// delays the next animation frame, not the page's timers. With a timer alone, a move's frame that was still
// being drawn when the timer fired counted as rest: every move then paid for the full map, unfiltering it and
// filtering it again (1,000,000 points: 450 ms frames instead of 60). The sample's size follows the frame
// time: every LOD_ADAPT_FRAMES frames of a move, and when it ends, it is scaled by LOD_FRAME_MS / the median
// spacing of those frames (by 1/4 to 2 at a time), within LOD_MIN_POINTS..LOD_POINTS.
// lod.adaptive false: a sample of a fixed size (bench/webgl_map.py's 'POINTS:fixed').
export const lod = { on: false, subset: null, points: LOD_POINTS, adaptive: true, lastMove: 0,
  frames: 0, raf: 0, gaps: [] };
export function lodSubset() {              // ~lod.points positions, sorted, spread over the index (a multiplicative hash)
  const k = Math.max(1, Math.round(S.n / lod.points));
  const out = [];
  for (let i = 0; i < S.n; i++) if (Math.imul(i, 2654435761) >>> 0 < 4294967296 / k) out.push(i);
  return out;
}
function restCheck() {                     // once an animation frame while the sample is drawn
  lod.raf = 0;
  if (!lod.on) return;
  lod.frames += 1;
  if (lod.frames >= LOD_REST_FRAMES && performance.now() - lod.lastMove >= LOD_REST_MS) { lodOff(); return; }
  lod.raf = requestAnimationFrame(restCheck);
}
export function lodMove() {
  if (!S.plot || S.n <= PERFORMANCE_MODE_POINTS || S.plot.get('mouseMode') === 'lasso') return;
  const now = performance.now();
  if (!lod.on) {
    lod.on = true;
    lod.gaps = [];
    lod.selected = state.points.slice();
    if (!lod.subset) lod.subset = lodSubset();
    S.plot.filter(lod.subset, { preventEvent: true });
  } else {
    lod.gaps.push(now - lod.lastMove);
    if (lod.gaps.length >= LOD_ADAPT_FRAMES && adaptPoints()) {     // resized within the move, not only after it
      lod.subset = lodSubset();
      S.plot.filter(lod.subset, { preventEvent: true });
    }
  }
  lod.lastMove = now;
  lod.frames = 0;
  if (!lod.raf) lod.raf = requestAnimationFrame(restCheck);
}
// The sample's size from the spacing of the frames since it was last sized (their median); true when it changed
// (then lod.subset is null until made again). Frames are counted afresh after each look.
function adaptPoints() {
  const gaps = lod.gaps;
  lod.gaps = [];
  if (!lod.adaptive || gaps.length < 3) return false;
  const g = gaps.slice().sort((a, b) => a - b)[gaps.length >> 1];
  const scale = Math.min(2, Math.max(0.25, LOD_FRAME_MS / Math.max(g, 1)));
  const next = Math.round(Math.min(LOD_POINTS, Math.max(LOD_MIN_POINTS, lod.points * scale)) / 1000) * 1000;
  if (Math.abs(next - lod.points) <= 0.1 * lod.points) return false;
  lod.points = next;
  lod.subset = null;
  return true;
}
export function lodOff() {
  cancelAnimationFrame(lod.raf);
  lod.raf = 0;
  if (!lod.on) return;
  lod.on = false;
  adaptPoints();
  S.plot.unfilter({ preventEvent: true });
  if (lod.selected.length) S.plot.select(lod.selected, { preventEvent: true });
  drawOverlay(true);
}

// The tool: 'panZoom' (Shift-drag lassoes), 'lasso' (a free-form lasso) or 'box' (a rectangle: regl-scatterplot's
// lasso of type 'rectangle', whose polygon is the box dragged; its points come back like a lasso's, and its corners
// with them, state.box)
export function setMode(m) {
  S.mode = m;
  document.getElementById('mode-pan').classList.toggle('on', m === 'panZoom');
  document.getElementById('mode-lasso').classList.toggle('on', m === 'lasso');
  document.getElementById('mode-box').classList.toggle('on', m === 'box');
  if (S.plot) S.plot.set(plotMode());
}
export const plotMode = () => ({ mouseMode: S.mode === 'panZoom' ? 'panZoom' : 'lasso',
  lassoType: S.mode === 'box' ? 'rectangle' : 'freeform' });

// Test and bench hook (tests/e2e/test_webgl_map.py, bench/webgl_map.py).
