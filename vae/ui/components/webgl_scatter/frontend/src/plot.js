// The regl-scatterplot instance: layout, creation, events, and drawing the points.
import createScatterplot from 'regl-scatterplot';
import { PERFORMANCE_MODE_POINTS, S, TRANSITION_MS, canvas, legendEl, noteEl, overlay, root, state, thumbs, timing } from './store.js';
import { sendValue, setHeight } from './messaging.js';
import { f32, fitXy, pointArrays, u16 } from './unpack.js';
import { built, indexInWorker } from './kdworker.js';
import { hideHover, hover, placeHover, showHover } from './hover.js';
import { lod, lodMove, lodOff, plotMode } from './selection.js';
import { drawOverlay } from './overlay.js';
import { directRenderer } from './renderer.js';

export function webglAvailable() {
  try {
    const c = document.createElement('canvas');
    const gl = c.getContext('webgl') || c.getContext('experimental-webgl');
    return !!(gl && gl.getExtension('OES_element_index_uint') !== undefined);
  } catch (e) {
    return false;
  }
}

// Sizes the canvases; does nothing when the size is as it was (a rerun's render message: a redraw of a
// large map costs a software-WebGL frame, and the page shares this thread)
let laidOut = null;
export function layout(force = false) {
  const w = Math.max(200, root.clientWidth - legendEl.offsetWidth - 8);
  const size = `${w}x${S.height}x${devicePixelRatio}`;
  if (size === laidOut && !force) { setHeight(); return; }
  laidOut = size;
  canvas.style.width = overlay.style.width = `${w}px`;
  canvas.style.height = overlay.style.height = `${S.height}px`;
  overlay.width = w * devicePixelRatio;
  overlay.height = S.height * devicePixelRatio;
  if (S.plot) S.plot.set({ width: w, height: S.height });
  setHeight();
  drawOverlay(false);
}

export const aspect = () => (canvas.clientWidth || 1) / (canvas.clientHeight || 1);   // the view: [-aspect, aspect] x [-1, 1]

export function fail(msg) {
  state.webgl = false;
  state.error = msg;
  noteEl.textContent = `This browser cannot draw the WebGL map (${msg}); the page falls back to the sampled Plotly map.`;
  noteEl.hidden = false;
  canvas.hidden = true;
  sendValue();
}

export function makePlot() {
  if (!S.renderer) S.renderer = directRenderer(canvas);      // one context for the canvas, kept when the plot is made anew
  S.plot = createScatterplot({
    canvas, renderer: S.renderer, width: Math.max(200, root.clientWidth - 180), height: S.height, performanceMode: S.performanceMode,
    syncEvents: true,   // a selection goes to Python at once, not after the next (slow, software) frame
    pointSize: 3, pointSizeSelected: 2, opacity: 0.85, backgroundColor: [1, 1, 1, 1],
    lassoColor: [0.9, 0.3, 0.1, 1], lassoMinDelay: 5, lassoMinDist: 2, deselectOnDblClick: true,
    pointColorActive: [0.9, 0.2, 0.1, 1], pointOutlineWidth: 1, lassoInitiator: false,
  });
  S.plot = wakingPlot(S.plot, S.renderer);
  subscribe();
}

// The plot with every API call but reads and subscriptions waking the renderer's frame loop (renderer.js: frames
// on demand), and a call that returns a promise holding it until the promise settles. getScreenPosition is a read
// the overlay makes for every thumbnail it draws, on every frame of a pan: it kept the loop awake 30 frames more.
const QUIET_CALLS = new Set(['get', 'getScreenPosition', 'subscribe', 'unsubscribe']);
function wakingPlot(plot, renderer) {
  return new Proxy(plot, {
    get(target, name) {
      const value = Reflect.get(target, name);
      if (typeof value !== 'function' || QUIET_CALLS.has(name)) return value;
      return (...args) => {
        renderer.wake();
        const out = value.apply(target, args);
        if (out && typeof out.then === 'function') renderer.hold(out);
        return out;
      };
    },
  });
}

// performanceMode (squares, no alpha blending: regl-scatterplot's fast path) is set when the plot is made
export function recreate(perf) {
  S.performanceMode = perf;
  S.plot.destroy();
  makePlot();
  S.plot.set(plotMode());
  layout(true);
}

export function init() {
  if (!webglAvailable()) { fail('no WebGL'); return false; }
  try {
    makePlot();
  } catch (e) {
    fail(`WebGL failed: ${e && e.message ? e.message : e}`);
    return false;
  }
  state.webgl = true;
  sendValue();
  return true;
}

// A box being dragged (from regl-scatterplot's 'lassoStart' in box mode to its 'lassoEnd'), else null
let boxDrag = null;

// A box's corners [x0, y0, x1, y1] (normalised) from its polygon (regl-scatterplot's GL coordinates, [x, y] pairs:
// the map's normalised coordinates), or null when it has no area (a click, no drag)
function boxCorners(polygon) {
  if (!polygon || polygon.length < 4) return null;
  const xs = polygon.map((p) => p[0]), ys = polygon.map((p) => p[1]);
  const box = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
  return box[2] > box[0] && box[3] > box[1] ? box : null;
}

export function subscribe() {
  // regl-scatterplot publishes 'select' (or 'deselect': nothing inside) before 'lassoEnd'; a click selects one
  // point, a lasso any number. A box's points wait for its 'lassoEnd', which sends them with the box's corners
  // (also when they are the points already selected, or none: the box's centre is still news to Python)
  S.plot.subscribe('select', ({ points }) => {
    if (boxDrag) { boxDrag.points = Array.from(points); return; }
    state.seq += 1;
    state.kind = points.length === 1 ? 'click' : 'lasso';
    state.points = Array.from(points);
    state.spot = null;
    state.box = null;
    sendValue();
  });
  S.plot.subscribe('deselect', () => {
    if (boxDrag) { boxDrag.points = []; return; }
    if (!state.points.length) return;
    state.seq += 1;
    state.kind = 'clear';
    state.points = [];
    state.box = null;
    sendValue();
  });
  S.plot.subscribe('lassoStart', () => {
    if (lod.on) lodOff();
    boxDrag = S.mode === 'box' ? { points: null } : null;
  });
  S.plot.subscribe('lassoExtend', ({ coordinates }) => { S.lassoDrawn = coordinates; });
  S.plot.subscribe('lassoEnd', ({ coordinates }) => {
    if (!boxDrag) return;
    const drag = boxDrag;
    boxDrag = null;
    const box = boxCorners(coordinates);
    const points = drag.points ?? Array.from(S.plot.get('selectedPoints'));
    if (!box && points.length === state.points.length) return;      // a click in box mode (no box), nothing changed
    state.seq += 1;
    state.kind = box ? 'box' : (points.length ? 'lasso' : 'clear');
    state.points = points;
    state.spot = null;
    state.box = box;
    sendValue();
  });
  S.plot.subscribe('pointover', (p) => showHover(p));
  S.plot.subscribe('pointout', () => hideHover());
  let pending = false;
  S.plot.subscribe('view', () => {
    lodMove();
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; drawOverlay(true); });
  });
}

export async function drawPoints(args, t0) {
  const xy = args.fit ? fitXy(f32(args.xy), aspect()) : f32(args.xy);
  const cat = u16(args.cat);
  S.cats = cat;
  const val = f32(args.val);
  S.vals = val;
  const moving = !!(S.plot && S.n > 0 && xy.length / 2 === S.n && state.drawn !== null);   // same points, new places
  S.n = xy.length / 2;
  // the spatial index (lasso, points in view), built from the typed array in a worker while this thread makes
  // the point arrays (regl-scatterplot would otherwise post every point to its own worker, a structured clone
  // of N small arrays, above 1,000,000 points)
  const ta = performance.now();
  const indexing = indexInWorker(xy, S.n);
  const pts = pointArrays(xy, cat, val, S.n);
  const t1 = performance.now();
  if (!moving) thumbs.clear();
  const keepHover = moving && hover.p >= 0 && hover.p < S.n;   // a live map's next frame: the box follows its point
  if (!keepHover) hideHover();
  lod.subset = null;
  lodOff();
  const perf = S.n > PERFORMANCE_MODE_POINTS;
  if (perf !== S.performanceMode) recreate(perf);
  const index = await indexing;
  S.kd = index;
  S.xyHeld = xy;
  const t2 = performance.now();
  const keep = moving ? state.points.filter((p) => p < S.n) : [];
  const transition = moving && !S.performanceMode;   // (performanceMode maps redraw at once: 1M moving points crawl)
  // The colours and the points they read change together: set here, with no wait before draw() takes the new
  // arrays (its steps up to the points' upload are promise callbacks, which no animation frame can come between).
  // Set before the index was awaited, every frame drawn meanwhile (seconds for 1,000,000 points) coloured the old
  // points by the new encoding: by label -> by value read every point's missing value as 0, the ramp's first colour.
  S.plot.set({ pointColor: args.colors, colorBy: val ? 'valueB' : 'valueA',
             pointSize: S.n > 200000 ? 1.5 : (S.n > 20000 ? 2.5 : 4) });
  await S.plot.draw(pts, { zDataType: 'categorical', wDataType: 'continuous', spatialIndex: index.data,
                         transition, transitionDuration: TRANSITION_MS, transitionEasing: 'quadInOut',
                         select: keep.length ? keep : undefined });
  if (transition) timing.transitions += 1;
  if (keepHover && hover.p >= 0) placeHover(hover.p);
  const t3 = performance.now();
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  timing.firstPaintMs = performance.now() - t0;
  state.drawn = args.data_key;      // later values tell Python it need not send these points again
  timing.unpackMs = t2 - t1 + (t1 - t0);
  timing.initMs = ta - t0;            // of unpackMs: the render message until the points are read (the WebGL context, once)
  timing.arraysMs = t1 - ta;          // ... regl-scatterplot's point arrays (the index sorts in its worker meanwhile)
  timing.indexWaitMs = t2 - t1;       // ... then waiting for the index (and setting the plot up)
  timing.drawMs = t3 - t2;
  timing.performanceMode = S.performanceMode;
  timing.indexBuiltIn = built.where;
  timing.points = S.n;
  timing.bytes = (args.xy ? args.xy.byteLength : 0) + (args.cat ? args.cat.byteLength : 0)
    + (args.val ? args.val.byteLength : 0);
  window.__scatter._painted += 1;
}
