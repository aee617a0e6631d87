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
//   hint      the line beside the tools, or null (the Latent map's); hover_images: false where no thumbnails come
//             (the hover box shows the point's category only, and asks for no image); view_images: false where the
//             points in view are not drawn as thumbnails when zoomed in (the live map: its points move every frame)
//   png_name  the file name (without .png) of the map saved by its "Map as PNG" button (snapshot.js)
//   fit       true: each frame's points scaled by one factor to fill the canvas (unpack.js fitXy; the live map)
//   frames    bytes: float32 (F, N, 2), frames of the same N points normalised like xy, or null; frame_titles: F
//             strings. With frames, a bar plays them in the browser (replay.js); the title names the frame shown
// Value (to Python, JSON): {webgl, error, seq, kind, points, spot, need, need_seq, drawn, instance}
//   points: positions (0..N-1) of the selected points; kind 'spot': spot [x, y] normalised, the clicked empty
//   place; need: positions whose thumbnails are wanted (points in view, or the hovered one and its neighbours).
//   need_seq: +1 per ask (the same positions asked again are a new value); instance: this frame's random id.
// A new data_key with as many points as drawn moves the points there (an animated transition: a projection
// changed, or a live map's next frame); the selection and the thumbnails (per position) are kept.
//
// Modules (entry main.js): store (shared state, DOM), messaging (to Streamlit), unpack (typed arrays over the
// bytes), kdworker (the spatial index, built in a Web Worker), plot (regl-scatterplot, drawing), overlay
// (thumbnails, rings), legend, hover, selection (clicks, level of detail, the tools), replay (a live map's frames),
// snapshot (the map as PNG).
import { PERFORMANCE_MODE_POINTS, S, THUMB_MAX_IN_VIEW, legendEl, state, thumbs, timing } from './store.js';
import { post, sendValue, setHeight } from './messaging.js';
import { drawPoints, init, layout } from './plot.js';
import { addAtlas, hover } from './hover.js';
import { lod, lodOff, setMode, toData } from './selection.js';
import { drawOverlay } from './overlay.js';
import { drawLegend } from './legend.js';
import { pace, playStep, replay, setFrames } from './replay.js';
import { mapPng, saved, savePng } from './snapshot.js';

// After each frame: whether its colouring matched the points' arrays ([x, y, category] or [x, y, 0, value])
function checkColouring() {
  const pts = S.plot && S.plot.get('points');
  if (!pts || !pts.length) return;
  if ((S.plot.get('colorBy') === 'valueW') !== (pts[0].length > 3)) timing.mismatchedFrames += 1;
}

async function onRender(args) {
  const t0 = performance.now();
  S.renders += 1;
  if (args.atlas) S.atlasRenders += 1;
  S.rendersWithoutAtlas = args.atlas ? 0 : S.rendersWithoutAtlas + 1;
  S.lastArgs = args;
  S.height = args.height || 620;
  if (state.webgl === null) {
    // made in the mode the first points need (a large map would otherwise make its WebGL context twice)
    S.performanceMode = !!args.xy && args.xy.byteLength / 8 > PERFORMANCE_MODE_POINTS;
    if (!init()) { setHeight(); return; }
    S.renderer.afterRender(checkColouring);
  }
  if (!S.plot) { setHeight(); return; }
  drawLegend(args);
  layout();
  S.highlight = args.highlight || [];
  S.query = args.query ?? -1;
  S.queryXy = args.query_xy || (state.kind === 'spot' ? state.spot : null);
  document.getElementById('hint').textContent = args.hint || ('hover a point to see its image; click it to pick it'
    + (args.decodes ? ', an empty spot to decode there' : '')
    + '; Shift-drag, Lasso or Box to select; double-click to clear; zoom in to see the images');
  if (args.data_key !== S.dataKey && !args.xy) {
    // Python left the points out because this session's browser had drawn them: this frame has not (it was
    // made anew); say so, and the rerun brings them
    if (state.drawn !== null || !S.asked) { S.asked = true; state.drawn = null; sendValue(); }
    return;
  }
  if (args.data_key !== S.dataKey) {
    S.dataKey = args.data_key;
    if (!(S.n > 0 && args.xy.byteLength / 8 === S.n)) state.points = [];   // the same points moved: keep the selection
    state.need = [];
    // Latest wins: points that come while others are drawn wait in one slot, and newer points replace them. A
    // live map's fragment sends a frame every second; a busy browser took 2-3 s a frame (transition included),
    // and a queue of every frame left the map ever further behind the run (and its images with it).
    if (S.nextDraw !== null) S.framesSkipped += 1;
    else {
      S.drawsQueued += 1;
      S.drawing = S.drawing.then(() => {
        S.drawsQueued -= 1;
        const { args: a, t0: t } = S.nextDraw;
        S.nextDraw = null;
        return drawPoints(a, t).then(() => setFrames(a));
      }).catch((e) => { console.error(e); });
    }
    S.nextDraw = { args, t0 };
  }
  // the images that came with these args, unless the points drawn instead are others (another count: the
  // same count is the same points moved, as drawPoints reads it)
  S.drawing = S.drawing.then(() => (args.xy && args.xy.byteLength / 8 !== S.n ? null : addAtlas(args)))
    .then(() => drawOverlay(true)).catch((e) => { console.error(e); });
}

window.addEventListener('message', (ev) => {
  const d = ev.data;
  if (d && d.type === 'streamlit:render') onRender(d.args || {});
});
// regl-scatterplot draws into its own canvas, sized to this frame's window (and resized with it), then copies
// that to ours: a first draw made before Streamlit grew the frame to its height was squashed into the few
// pixels the window had then, and stayed on the canvas until the view moved. Draw again on every resize.
window.addEventListener('resize', () => { layout(); if (S.plot) S.plot.redraw(); });

document.getElementById('mode-pan').addEventListener('click', () => setMode('panZoom'));
document.getElementById('mode-lasso').addEventListener('click', () => setMode('lasso'));
document.getElementById('mode-box').addEventListener('click', () => setMode('box'));
document.getElementById('save-png').addEventListener('click', (e) => savePng(e.currentTarget));
document.getElementById('reset').addEventListener('click', () => S.plot && S.plot.reset());
window.__scatter = {
  _painted: 0,
  _thumbsDrawn: 0,
  webgl: () => state.webgl,
  count: () => S.n,
  painted: () => window.__scatter._painted,
  // the renderer's frames drawn so far, and whether its frame loop runs (it rests on a map nobody touches)
  frames: () => (S.renderer ? S.renderer.renders : 0),
  looping: () => !!(S.renderer && S.renderer.looping),
  timing: () => ({ ...timing }),
  selected: () => state.points.slice(),
  marked: () => Array.from(S.plot.get('selectedPoints')).sort((a, b) => a - b),   // what the canvas draws selected
  selectSeq: () => state.seq,
  select: (positions) => S.plot.select(positions),
  // vertices in the map's normalised coordinates ([-1, 1], the `xy` sent), as the lasso would draw them
  lasso: (vertices) => { lodOff(); return S.plot.lassoSelect(vertices, { isGl: true }); },
  box: () => state.box && state.box.slice(),        // the corners of the box that made the selection, or null
  mode: () => S.mode,
  lassoDrawn: () => S.lassoDrawn.map((p) => [p[0], p[1]]),   // the lasso or box being drawn (normalised vertices)
  // frames drawn whose colouring did not match the points' arrays (by value over points that hold only a
  // category, or by category over points that hold a value): a recolour drawn before its values arrived
  mismatchedFrames: () => timing.mismatchedFrames,
  saved: () => ({ ...saved }),                      // maps saved as PNG: count, last {width, height, bytes}, error
  png: async () => { const { width, height, blob } = await mapPng(); return { width, height, bytes: blob.size }; },
  lodActive: () => lod.on,
  // level of detail while moving (bench/webgl_map.py compares settings in one page): points drawn (the start,
  // when adaptive), adaptive (the sample sized by the frame time) or a sample of a fixed size
  setLod: ({ points = lod.points, adaptive = lod.adaptive } = {}) => {
    lodOff();
    lod.points = points; lod.adaptive = adaptive; lod.subset = null;
  },
  lodPoints: () => lod.points,
  _hovered: -1,
  _hoverShown: -1,
  hovered: () => window.__scatter._hovered,
  hoverShown: () => window.__scatter._hoverShown,      // the position whose image the hover box shows, or -1
  need: () => state.need.slice(),                          // the positions this frame still asks images of
  hover: (i) => S.plot.hover(i),                           // as the mouse over point i
  screenPosition: (i) => S.plot.getScreenPosition(i),      // CSS px on the canvas
  toData: (mx, my) => toData(mx, my),
  spot: () => state.spot,
  queryXy: () => S.queryXy,
  ringed: () => S.highlight.length,
  transitions: () => timing.transitions,
  framesSkipped: () => S.framesSkipped,                    // points replaced by newer ones before they were drawn
  drawsQueued: () => S.drawsQueued,                        // draws of points waiting (at most one: the newest)
  // holds the draws (as a slow browser would) until window.__releaseDrawing() is called
  holdDrawing: () => { S.drawing = S.drawing.then(() => new Promise((r) => { window.__releaseDrawing = r; })); },
  // the render messages that came from Python, and those of them that brought images (counted as they come; the
  // images are added once the points before them are drawn: s.atlases())
  renders: () => S.renders,
  atlasRenders: () => S.atlasRenders,
  rendersWithoutAtlas: () => S.rendersWithoutAtlas,        // in a row, since the last that brought images
  // the replay (args.frames): frames held, the one shown, how many were drawn since the page opened, playing
  replayFrames: () => replay.count,
  replayFrame: () => replay.k,
  replayShown: () => replay.shown,
  replayHistory: () => replay.history.slice(),      // the frames drawn, in order (the last 1000)
  replayPlaying: () => replay.playing,
  replayMoving: () => replay.moving,              // a frame's transition under way
  replayStep: () => playStep(replay.count),       // Play's [transition, rest] in ms a frame
  replayFaster: (speed) => { pace.speed = speed; },   // Play at `speed` times its pace (a test of what it draws)
  title: () => document.getElementById('title').textContent,
  points: () => S.plot.get('points').map((p) => [p[0], p[1]]),
  zoomTo: (x, y, distance) => S.plot.zoomToLocation([x, y], distance),
  point: (i) => S.plot.get('points')[i].slice(0, 2),
  colorMode: () => (S.lastArgs.val ? 'value' : 'category'),
  // how the points on the canvas are coloured now: a recolour's arrays are drawn once the spatial index of its
  // points is built (a worker, seconds at 1,000,000), after the legend and colorMode() have changed
  drawnColour: () => {
    const pts = S.plot && S.plot.get('points');
    if (!pts || !pts.length) return null;
    return S.plot.get('colorBy') === 'valueW' && pts[0].length > 3 ? 'value' : 'category';
  },
  // the values the points are coloured by (colour by a value; Python sends them rescaled to [0, 1]): how
  // many, how many finite, their range and a 10-bin histogram over [0, 1]
  valueStats: () => {
    const v = S.vals;
    if (!v) return null;
    let finite = 0, min = Infinity, max = -Infinity;
    const bins = new Array(10).fill(0);
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (!Number.isFinite(x)) continue;
      finite += 1;
      if (x < min) min = x;
      if (x > max) max = x;
      bins[Math.min(9, Math.max(0, Math.floor(x * 10)))] += 1;
    }
    return { n: v.length, finite, min, max, bins };
  },
  legendText: () => legendEl.innerText,
  // zoom in on point i until at most maxInView points are in view (thumbnails then show)
  async zoomUntil(i, maxInView = THUMB_MAX_IN_VIEW) {
    const [x, y] = S.plot.get('points')[i];
    let d = 1;
    do {
      d /= 2;
      await S.plot.zoomToLocation([x, y], d);
      lodOff();
    } while (S.plot.get('pointsInView').length > maxInView && d > 1e-5);
    return S.plot.get('pointsInView').length;
  },
  thumbsDrawn: () => window.__scatter._thumbsDrawn,
  thumbsCached: () => thumbs.size,
  hasThumb: (i) => thumbs.has(i),                     // the browser holds point i's image
  _atlases: 0,
  atlases: () => window.__scatter._atlases,           // atlases of thumbnails received since the page opened
  pointsInView: () => S.plot.get('pointsInView').length,
  // pan/zoom frame times (ms): `frames` camera moves, each timed from the move to the frame that drew it
  async frameTimes(frames = 30) {
    const out = [];
    for (let i = 0; i < frames; i++) {
      const t = performance.now();
      const d = 1 - 0.4 * Math.sin((i / frames) * Math.PI);
      await S.plot.zoomToLocation([0.3 * Math.sin(i / 5), 0.3 * Math.cos(i / 5)], d);
      await new Promise((r) => requestAnimationFrame(r));
      out.push(performance.now() - t);
    }
    return out;
  },
};

post('streamlit:componentReady', { apiVersion: 1 });
setHeight();
