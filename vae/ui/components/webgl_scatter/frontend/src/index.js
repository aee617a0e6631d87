// WebGL scatter for the Latent map: a Streamlit v1 custom component (bare postMessage protocol, no React)
// over regl-scatterplot. Python: vae/ui/components/webgl_scatter/__init__.py. Rebuild: see the docstring there.
//
// Arguments (from Python, each render):
//   xy        bytes: float32 (N, 2) little-endian, x and y already normalised to [-1, 1] (equal scales)
//   cat       bytes: uint16 (N,) category per point (colour by label/factor), or null
//   val       bytes: float32 (N,) value per point in [0, 1] (colour by value), or null
//   colors    list of hex colours: one per category, or a ramp (value mode)
//   legend    [{name, color}] or null; colorbar {name, lo, hi, colors} or null
//   data_key  string: changes when the points or colours change (then they are drawn again)
//   atlas     bytes: one PNG of the thumbnails of atlas_ids (grid of `atlas_cols`, `thumb` px each), or null
//   highlight list of point positions to ring (neighbours), query: position or -1
//   query_xy  [x, y] normalised: where a query that is no point sits (a clicked spot, an uploaded image), or null
//   names     category names (the hover label), or null; decodes: an empty spot's click is sent (the map has an inverse)
// Value (to Python, JSON): {webgl, error, seq, kind, points, spot, need, need_seq, drawn}
//   points: positions (0..N-1) of the selected points; kind 'spot': spot [x, y] normalised, the clicked empty
//   place; need: positions whose thumbnails are wanted (points in view, or the hovered one and its neighbours).
// A new data_key with as many points as drawn moves the points there (an animated transition: a projection
// changed, or a live map's next frame); the selection and the thumbnails (per position) are kept.
import KDBush from 'kdbush';
import createScatterplot from 'regl-scatterplot';

const THUMB_MAX_IN_VIEW = 400;      // thumbnails are drawn (and asked for) when at most this many points are in view
const THUMB_PX = 36;
const PERFORMANCE_MODE_POINTS = 300000;   // above this many points: regl-scatterplot's performanceMode
const LOD_POINTS = 150000;          // while the view moves, maps above PERFORMANCE_MODE_POINTS draw about this many
const LOD_REST_MS = 200;            // ... and every point again once the view has rested this long
const TRANSITION_MS = 750;          // points moving to a new layout of the same points
const HOVER_PX = 112;               // the hovered point's image, CSS px
const HOVER_ASK = 64;               // images asked for around a hovered point that has none yet
const HOVER_REST_MS = 120;          // ... once the mouse has rested on it this long
const CLICK_DELAY_MS = 260;         // an empty spot's click waits this long for a double-click (which clears)

const post = (type, extra) => window.parent.postMessage({ isStreamlitMessage: true, type, ...extra }, '*');
const state = { webgl: null, error: null, seq: 0, kind: 'none', points: [], spot: null, need: [], need_seq: 0,
  drawn: null };
const sendValue = () => {
  timing.sentAt = Date.now();      // ms since the epoch, for the bench's split of a round trip
  post('streamlit:setComponentValue', { value: { ...state }, dataType: 'json' });
};

const root = document.getElementById('root');
const canvas = document.getElementById('plot');
const overlay = document.getElementById('overlay');
const legendEl = document.getElementById('legend');
const noteEl = document.getElementById('note');
const hoverEl = document.getElementById('hover');
const hoverImg = document.getElementById('hover-img');
const hoverText = document.getElementById('hover-text');
let plot = null;
let dataKey = null;
let n = 0;
let height = 620;
let lastArgs = {};
let drawing = Promise.resolve();
let asked = false;
const thumbs = new Map();           // position -> {bmp, sx, sy, w, h}
let highlight = [];
let query = -1;
let queryXy = null;                 // [x, y] normalised, a query that is no point (a clicked spot), or null
let kd = null;                      // KDBush over the points drawn (hover neighbourhoods)
let xyHeld = null;                  // Float32Array (2N,) of the points drawn
const timing = { firstPaintMs: null, points: 0, bytes: 0, transitions: 0 };

function webglAvailable() {
  try {
    const c = document.createElement('canvas');
    const gl = c.getContext('webgl') || c.getContext('experimental-webgl');
    return !!(gl && gl.getExtension('OES_element_index_uint') !== undefined);
  } catch (e) {
    return false;
  }
}

function f32(u8) {   // a Float32Array over bytes (copied when not 4-byte aligned)
  if (!u8) return null;
  const b = u8.byteOffset % 4 === 0 ? u8 : u8.slice();
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}
function u16(u8) {
  if (!u8) return null;
  const b = u8.byteOffset % 2 === 0 ? u8 : u8.slice();
  return new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
}

let frameHeight = -1;
function setHeight() {
  const h = root.getBoundingClientRect().height + 4;
  if (h === frameHeight) return;
  frameHeight = h;
  post('streamlit:setFrameHeight', { height: h });
}

// Sizes the canvases; does nothing when the size is as it was (a rerun's render message: a redraw of a
// large map costs a software-WebGL frame, and the page shares this thread)
let laidOut = null;
function layout(force = false) {
  const w = Math.max(200, root.clientWidth - legendEl.offsetWidth - 8);
  const size = `${w}x${height}x${devicePixelRatio}`;
  if (size === laidOut && !force) { setHeight(); return; }
  laidOut = size;
  canvas.style.width = overlay.style.width = `${w}px`;
  canvas.style.height = overlay.style.height = `${height}px`;
  overlay.width = w * devicePixelRatio;
  overlay.height = height * devicePixelRatio;
  if (plot) plot.set({ width: w, height });
  setHeight();
  drawOverlay(false);
}

function fail(msg) {
  state.webgl = false;
  state.error = msg;
  noteEl.textContent = `This browser cannot draw the WebGL map (${msg}); the page falls back to the sampled Plotly map.`;
  noteEl.hidden = false;
  canvas.hidden = true;
  sendValue();
}

let performanceMode = false;
function makePlot() {
  plot = createScatterplot({
    canvas, width: Math.max(200, root.clientWidth - 180), height, performanceMode,
    syncEvents: true,   // a selection goes to Python at once, not after the next (slow, software) frame
    pointSize: 3, pointSizeSelected: 2, opacity: 0.85, backgroundColor: [1, 1, 1, 1],
    lassoColor: [0.9, 0.3, 0.1, 1], lassoMinDelay: 5, lassoMinDist: 2, deselectOnDblClick: true,
    pointColorActive: [0.9, 0.2, 0.1, 1], pointOutlineWidth: 1, lassoInitiator: false,
  });
  subscribe();
}

// performanceMode (squares, no alpha blending: regl-scatterplot's fast path) is set when the plot is made
function recreate(perf) {
  performanceMode = perf;
  const mode = plot.get('mouseMode');
  plot.destroy();
  makePlot();
  plot.set({ mouseMode: mode });
  layout(true);
}

function init() {
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

function subscribe() {
  // regl-scatterplot publishes 'select' before 'lassoEnd'; a click selects one point, a lasso any number
  plot.subscribe('select', ({ points }) => {
    state.seq += 1;
    state.kind = points.length === 1 ? 'click' : 'lasso';
    state.points = Array.from(points);
    state.spot = null;
    sendValue();
  });
  plot.subscribe('deselect', () => {
    if (!state.points.length) return;
    state.seq += 1;
    state.kind = 'clear';
    state.points = [];
    sendValue();
  });
  plot.subscribe('pointover', (p) => showHover(p));
  plot.subscribe('pointout', () => hideHover());
  plot.subscribe('lassoStart', () => { if (lod.on) lodOff(); });
  let pending = false;
  plot.subscribe('view', () => {
    lodMove();
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; drawOverlay(true); });
  });
}

// ---- hover: the point's image in a box beside it (asked from Python with its neighbours when not held) ----
const hover = { p: -1, timer: null, buttons: false };
function showHover(p) {
  hover.p = p;
  // no hover box (nor a rerun for its image) while a lasso is drawn or the view dragged
  if (!plot || p < 0 || p >= n || hover.buttons || plot.get('mouseMode') === 'lasso') { hideHover(); return; }
  const names = lastArgs.names;
  const name = cats && names ? names[cats[p]] : null;
  hoverText.textContent = `#${p}` + (name != null ? ` \u00b7 ${name}` : '');
  const ctx = hoverImg.getContext('2d');
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, hoverImg.width, hoverImg.height);
  const t = thumbs.get(p);
  if (t) {
    ctx.drawImage(t.bmp, t.sx, t.sy, t.w, t.h, 0, 0, HOVER_PX, HOVER_PX);
  } else {
    ctx.fillStyle = '#808495';
    ctx.font = '12px sans-serif';
    ctx.fillText('loading\u2026', 30, 60);
    clearTimeout(hover.timer);
    hover.timer = setTimeout(() => askAround(p), HOVER_REST_MS);
  }
  placeHover(p);
  hoverEl.hidden = false;
  window.__scatter._hovered = p;
  window.__scatter._hoverShown = t ? p : -1;
}
function placeHover(p) {
  const s = plot.getScreenPosition(p);
  if (!s) return;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  const bw = HOVER_PX + 10, bh = HOVER_PX + 28;
  const x = s[0] + 14 + bw > w ? s[0] - 14 - bw : s[0] + 14;
  const y = Math.min(Math.max(0, s[1] - bh / 2), Math.max(0, h - bh));
  hoverEl.style.left = `${Math.max(0, x)}px`;
  hoverEl.style.top = `${y}px`;
}
function hideHover() {
  clearTimeout(hover.timer);
  hover.p = -1;
  hoverEl.hidden = true;
  window.__scatter._hovered = -1;
}
function askAround(p) {             // the hovered point first, then its nearest points without an image
  if (hover.p !== p || thumbs.has(p)) return;
  const want = [p];
  if (kd && xyHeld) {
    const x = xyHeld[2 * p], y = xyHeld[2 * p + 1];
    let r = 0.01;
    let ids = [];
    while (r < 4) {
      ids = kd.within(x, y, r);
      if (ids.length >= 4 * HOVER_ASK) break;
      r *= 2;
    }
    ids.sort((a, b) => ((xyHeld[2 * a] - x) ** 2 + (xyHeld[2 * a + 1] - y) ** 2)
      - ((xyHeld[2 * b] - x) ** 2 + (xyHeld[2 * b + 1] - y) ** 2));
    for (const i of ids) {
      if (want.length >= HOVER_ASK) break;
      if (i !== p && !thumbs.has(i)) want.push(i);
    }
  }
  state.need = want;
  state.need_seq += 1;
  sendValue();
}

// ---- a click on an empty spot: its place goes to Python (which decodes it there), unless a double-click follows ----
function toData(mx, my) {           // CSS px on the canvas -> the normalised coordinates of the points
  const v = plot.get('cameraView');                 // column-major 4x4: scale v[0], v[5], translation v[12], v[13]
  const w = canvas.clientWidth, h = canvas.clientHeight;
  const ar = plot.get('aspectRatio') || 1;
  const cx = (-1 + (2 * mx) / w) * (w / h), cy = 1 - (2 * my) / h;
  return [(cx - v[12]) / v[0] / ar, (cy - v[13]) / v[5]];
}
const click = { x: 0, y: 0, seq: 0, timer: null };
canvas.addEventListener('mousedown', (e) => {
  click.x = e.offsetX; click.y = e.offsetY; click.seq = state.seq;
  hover.buttons = true;
  hideHover();
});
window.addEventListener('mouseup', () => { hover.buttons = false; });
canvas.addEventListener('click', (e) => {
  if (!plot || !n || !lastArgs.decodes || plot.get('mouseMode') !== 'panZoom') return;
  if (Math.hypot(e.offsetX - click.x, e.offsetY - click.y) > 3) return;       // a pan, not a click
  const at = toData(e.offsetX, e.offsetY);
  clearTimeout(click.timer);
  click.timer = setTimeout(() => {
    if (state.seq !== click.seq) return;                 // the click picked a point (or a lasso ended)
    if (plot.get('selectedPoints').length) plot.deselect({ preventEvent: true });
    state.seq += 1;
    state.kind = 'spot';
    state.points = [];
    state.spot = at;
    queryXy = at;
    drawOverlay(false);
    sendValue();
  }, CLICK_DELAY_MS);
});
canvas.addEventListener('dblclick', () => { clearTimeout(click.timer); });
canvas.addEventListener('mouseleave', () => hideHover());

// ---- level of detail: a large map draws a fixed sample while the camera moves, every point at rest ----
const lod = { on: false, subset: null, timer: null };
function lodSubset() {              // ~LOD_POINTS positions, sorted, spread over the index (a multiplicative hash)
  const k = Math.max(1, Math.round(n / LOD_POINTS));
  const out = [];
  for (let i = 0; i < n; i++) if (Math.imul(i, 2654435761) >>> 0 < 4294967296 / k) out.push(i);
  return out;
}
function lodMove() {
  if (!plot || n <= PERFORMANCE_MODE_POINTS || plot.get('mouseMode') === 'lasso') return;
  if (!lod.on) {
    lod.on = true;
    lod.selected = state.points.slice();
    if (!lod.subset) lod.subset = lodSubset();
    plot.filter(lod.subset, { preventEvent: true });
  }
  clearTimeout(lod.timer);
  lod.timer = setTimeout(lodOff, LOD_REST_MS);
}
function lodOff() {
  clearTimeout(lod.timer);
  if (!lod.on) return;
  lod.on = false;
  plot.unfilter({ preventEvent: true });
  if (lod.selected.length) plot.select(lod.selected, { preventEvent: true });
  drawOverlay(true);
}

// ---- thumbnails and rings on a 2-d canvas over the WebGL one -------------------------------------
let needTimer = null;
function drawOverlay(mayAsk) {
  const ctx = overlay.getContext('2d');
  ctx.setTransform(devicePixelRatio, 0, 0, devicePixelRatio, 0, 0);
  ctx.clearRect(0, 0, overlay.width, overlay.height);
  if (!plot || !n) return;
  // points in view ~ N x (visible share of the [-1, 1] square): skip the index query while zoomed out
  const d = plot.get('camera').distance[0];
  if (lod.on) return;              // moving: thumbnails and rings come back when the view rests
  const inView = n * Math.min(1, d * d) > 20 * THUMB_MAX_IN_VIEW ? null : plot.get('pointsInView');
  let drawn = 0;
  ctx.lineWidth = 2;
  if (inView && inView.length <= THUMB_MAX_IN_VIEW) {
    const missing = [];
    for (const p of inView) {
      const t = thumbs.get(p);
      const s = plot.getScreenPosition(p);
      if (!t) { missing.push(p); continue; }
      if (!s) continue;
      ctx.drawImage(t.bmp, t.sx, t.sy, t.w, t.h, s[0] - THUMB_PX / 2, s[1] - THUMB_PX / 2, THUMB_PX, THUMB_PX);
      ctx.strokeStyle = borderColor(p);
      ctx.strokeRect(s[0] - THUMB_PX / 2, s[1] - THUMB_PX / 2, THUMB_PX, THUMB_PX);
      drawn += 1;
    }
    if (mayAsk && missing.length) {
      clearTimeout(needTimer);   // ask once the view rests (not on every frame of a zoom)
      needTimer = setTimeout(() => {
        state.need = missing.slice(0, THUMB_MAX_IN_VIEW);
        state.need_seq += 1;
        sendValue();
      }, 150);
    }
  }
  window.__scatter._thumbsDrawn = drawn;
  // neighbours ringed and the query marked in magenta (as on the Plotly map); around a thumbnail when shown
  const r = drawn ? THUMB_PX / 2 + 3 : 7;
  ctx.strokeStyle = '#e4007c';
  ctx.lineWidth = 2.5;
  for (const p of highlight) {
    const s = plot.getScreenPosition(p);
    if (!s) continue;
    ctx.beginPath();
    ctx.arc(s[0], s[1], drawn ? r * 1.45 : r, 0, 2 * Math.PI);
    ctx.stroke();
  }
  if (query < 0 && queryXy) {        // a clicked spot (or a query image placed on the map): a cross in a square
    const s = screenOf(queryXy);
    ctx.lineWidth = 3;
    ctx.strokeRect(s[0] - 9, s[1] - 9, 18, 18);
    ctx.beginPath();
    ctx.moveTo(s[0] - 5, s[1]); ctx.lineTo(s[0] + 5, s[1]);
    ctx.moveTo(s[0], s[1] - 5); ctx.lineTo(s[0], s[1] + 5);
    ctx.stroke();
  }
  if (query >= 0) {
    const s = plot.getScreenPosition(query);
    if (s) {
      ctx.lineWidth = 4;
      const q = drawn ? r + 3 : 10;
      ctx.strokeRect(s[0] - q, s[1] - q, 2 * q, 2 * q);
    }
  }
}

function screenOf([x, y]) {        // the inverse of toData: normalised coordinates -> CSS px on the canvas
  const v = plot.get('cameraView');
  const w = canvas.clientWidth, h = canvas.clientHeight;
  const ar = plot.get('aspectRatio') || 1;
  const cx = x * ar * v[0] + v[12], cy = y * v[5] + v[13];
  return [((cx * h) / w + 1) * (w / 2), ((1 - cy) * h) / 2];
}

let cats = null;                   // uint16 (N,) categories of the points drawn, or null (colour by value)
function borderColor(p) {          // a thumbnail's frame: its point's category colour
  const c = cats && lastArgs.colors ? lastArgs.colors[cats[p]] : null;
  return c || '#888';
}

async function addAtlas(args) {
  if (!args.atlas || !args.atlas_ids || !args.atlas_ids.length) return;
  const bmp = await createImageBitmap(new Blob([args.atlas], { type: 'image/png' }));
  const t = args.thumb, cols = args.atlas_cols;
  args.atlas_ids.forEach((p, k) => {
    thumbs.set(p, { bmp, sx: (k % cols) * t, sy: Math.floor(k / cols) * t, w: t, h: t });
  });
  if (hover.p >= 0 && thumbs.has(hover.p)) showHover(hover.p);
  drawOverlay(false);
}

let legendShown = null;
function drawLegend(args) {
  const sig = JSON.stringify([args.legend, args.colorbar]);
  if (sig === legendShown) return;         // the same legend (a rerun): leave the DOM alone
  legendShown = sig;
  legendEl.innerHTML = '';
  if (args.legend) {
    for (const { name, color } of args.legend) {
      const row = document.createElement('div');
      row.className = 'row';
      row.innerHTML = `<span class="sw" style="background:${color}"></span><span></span>`;
      row.lastChild.textContent = name;
      legendEl.appendChild(row);
    }
  } else if (args.colorbar) {
    const cb = args.colorbar;
    const title = document.createElement('div');
    title.className = 'title';
    title.textContent = cb.name;
    const bar = document.createElement('div');
    bar.className = 'bar';
    bar.style.background = `linear-gradient(to top, ${cb.colors.join(', ')})`;
    const hi = document.createElement('div');
    hi.textContent = cb.hi;
    const lo = document.createElement('div');
    lo.textContent = cb.lo;
    legendEl.append(title, hi, bar, lo);
  }
}

async function drawPoints(args, t0) {
  const xy = f32(args.xy);
  const cat = u16(args.cat);
  cats = cat;
  const val = f32(args.val);
  const moving = !!(plot && n > 0 && xy.length / 2 === n && state.drawn !== null);   // same points, new places
  n = xy.length / 2;
  const pts = new Array(n);
  for (let i = 0; i < n; i++) {
    pts[i] = [xy[2 * i], xy[2 * i + 1], cat ? cat[i] : 0, val ? val[i] : 0];
  }
  const t1 = performance.now();
  if (!moving) thumbs.clear();
  hideHover();
  lod.subset = null;
  lodOff();
  const perf = n > PERFORMANCE_MODE_POINTS;
  if (perf !== performanceMode) recreate(perf);
  plot.set({ pointColor: args.colors, colorBy: val ? 'valueB' : 'valueA',
             pointSize: n > 200000 ? 1.5 : (n > 20000 ? 2.5 : 4) });
  // the spatial index (lasso, points in view), built here from the typed array: regl-scatterplot would
  // otherwise post every point to a worker (structured clone of N small arrays) above 1,000,000 points
  const index = new KDBush(n, 16);
  for (let i = 0; i < n; i++) index.add(xy[2 * i], xy[2 * i + 1]);
  index.finish();
  kd = index;
  xyHeld = xy;
  const t2 = performance.now();
  const keep = moving ? state.points.filter((p) => p < n) : [];
  const transition = moving && !performanceMode;   // (performanceMode maps redraw at once: 1M moving points crawl)
  await plot.draw(pts, { zDataType: 'categorical', wDataType: 'continuous', spatialIndex: index.data,
                         transition, transitionDuration: TRANSITION_MS, transitionEasing: 'quadInOut',
                         select: keep.length ? keep : undefined });
  if (transition) timing.transitions += 1;
  const t3 = performance.now();
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  timing.firstPaintMs = performance.now() - t0;
  state.drawn = args.data_key;      // later values tell Python it need not send these points again
  timing.unpackMs = t2 - t1 + (t1 - t0);
  timing.drawMs = t3 - t2;
  timing.performanceMode = performanceMode;
  timing.points = n;
  timing.bytes = (args.xy ? args.xy.byteLength : 0) + (args.cat ? args.cat.byteLength : 0)
    + (args.val ? args.val.byteLength : 0);
  window.__scatter._painted += 1;
}

async function onRender(args) {
  const t0 = performance.now();
  lastArgs = args;
  height = args.height || 620;
  if (state.webgl === null && !init()) { setHeight(); return; }
  if (!plot) { setHeight(); return; }
  drawLegend(args);
  layout();
  highlight = args.highlight || [];
  query = args.query ?? -1;
  queryXy = args.query_xy || (state.kind === 'spot' ? state.spot : null);
  document.getElementById('hint').textContent = 'hover a point to see its image; click it to pick it'
    + (args.decodes ? ', an empty spot to decode there' : '')
    + '; Shift-drag or Lasso mode to select; double-click to clear; zoom in to see the images';
  if (args.data_key !== dataKey && !args.xy) {
    // Python left the points out because this session's browser had drawn them: this frame has not (it was
    // made anew); say so, and the rerun brings them
    if (state.drawn !== null || !asked) { asked = true; state.drawn = null; sendValue(); }
    return;
  }
  if (args.data_key !== dataKey) {
    dataKey = args.data_key;
    if (!(n > 0 && args.xy.byteLength / 8 === n)) state.points = [];   // the same points moved: keep the selection
    state.need = [];
    drawing = drawing.then(() => drawPoints(args, t0)).catch((e) => { console.error(e); });
  }
  drawing = drawing.then(() => addAtlas(args)).then(() => drawOverlay(true)).catch((e) => { console.error(e); });
}

window.addEventListener('message', (ev) => {
  const d = ev.data;
  if (d && d.type === 'streamlit:render') onRender(d.args || {});
});
window.addEventListener('resize', () => layout());

document.getElementById('mode-pan').addEventListener('click', () => setMode('panZoom'));
document.getElementById('mode-lasso').addEventListener('click', () => setMode('lasso'));
document.getElementById('reset').addEventListener('click', () => plot && plot.reset());
function setMode(m) {
  if (!plot) return;
  plot.set({ mouseMode: m });
  document.getElementById('mode-pan').classList.toggle('on', m === 'panZoom');
  document.getElementById('mode-lasso').classList.toggle('on', m === 'lasso');
}

// Test and bench hook (tests/e2e/test_webgl_map.py, bench/webgl_map.py).
window.__scatter = {
  _painted: 0,
  _thumbsDrawn: 0,
  webgl: () => state.webgl,
  count: () => n,
  painted: () => window.__scatter._painted,
  timing: () => ({ ...timing }),
  selected: () => state.points.slice(),
  selectSeq: () => state.seq,
  select: (positions) => plot.select(positions),
  // vertices in the map's normalised coordinates ([-1, 1], the `xy` sent), as the lasso would draw them
  lasso: (vertices) => { lodOff(); return plot.lassoSelect(vertices, { isGl: true }); },
  lodActive: () => lod.on,
  _hovered: -1,
  _hoverShown: -1,
  hovered: () => window.__scatter._hovered,
  hoverShown: () => window.__scatter._hoverShown,      // the position whose image the hover box shows, or -1
  hover: (i) => plot.hover(i),                           // as the mouse over point i
  screenPosition: (i) => plot.getScreenPosition(i),      // CSS px on the canvas
  toData: (mx, my) => toData(mx, my),
  spot: () => state.spot,
  queryXy: () => queryXy,
  ringed: () => highlight.length,
  transitions: () => timing.transitions,
  points: () => plot.get('points').map((p) => [p[0], p[1]]),
  zoomTo: (x, y, distance) => plot.zoomToLocation([x, y], distance),
  point: (i) => plot.get('points')[i].slice(0, 2),
  colorMode: () => (lastArgs.val ? 'value' : 'category'),
  legendText: () => legendEl.innerText,
  // zoom in on point i until at most maxInView points are in view (thumbnails then show)
  async zoomUntil(i, maxInView = THUMB_MAX_IN_VIEW) {
    const [x, y] = plot.get('points')[i];
    let d = 1;
    do {
      d /= 2;
      await plot.zoomToLocation([x, y], d);
      lodOff();
    } while (plot.get('pointsInView').length > maxInView && d > 1e-5);
    return plot.get('pointsInView').length;
  },
  thumbsDrawn: () => window.__scatter._thumbsDrawn,
  thumbsCached: () => thumbs.size,
  pointsInView: () => plot.get('pointsInView').length,
  // pan/zoom frame times (ms): `frames` camera moves, each timed from the move to the frame that drew it
  async frameTimes(frames = 30) {
    const out = [];
    for (let i = 0; i < frames; i++) {
      const t = performance.now();
      const d = 1 - 0.4 * Math.sin((i / frames) * Math.PI);
      await plot.zoomToLocation([0.3 * Math.sin(i / 5), 0.3 * Math.cos(i / 5)], d);
      await new Promise((r) => requestAnimationFrame(r));
      out.push(performance.now() - t);
    }
    return out;
  },
};

post('streamlit:componentReady', { apiVersion: 1 });
setHeight();
