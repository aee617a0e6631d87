// Shared by the harness pages: loads the points (binary, from the bench's server), counts what WebGL draws
// per animation frame (any library: the draw calls are wrapped), and times the first paint and a scripted
// pan/zoom with requestAnimationFrame. window.__bench is what bench/map_libraries.py reads.
//
// Data file /data/N.bin: x float32[N], y float32[N] (in [-1, 1]), category uint8[N] (0-9).

const B = (window.__bench = {
  n: 0, phase: 'loading', error: null, note: '', firstPaintMs: null, drawnAtPaint: 0,
  frames: null, drawn: null, frameStats: null,
});
window.addEventListener('error', (e) => { B.error = B.error || String(e.message || e); });
window.addEventListener('unhandledrejection', (e) => { B.error = B.error || String(e.reason && e.reason.message || e.reason); });
const origError = console.error;
console.error = (...a) => { B.consoleErrors = (B.consoleErrors || []).concat(a.map(String).join(' ')); origError(...a); };

// --- points drawn per frame: every draw call of every WebGL context, counted as points (POINTS vertices or
// instances); reset by the first requestAnimationFrame callback of each frame
let drawnNow = 0;
function count(mode, n, instances) {
  drawnNow += instances !== undefined ? instances : (mode === 0 ? n : 0);
}
function wrap(proto) {
  if (!proto) return;
  for (const [name, f] of [['drawArrays', (m, first, c) => count(m, c)],
    ['drawElements', (m, c) => count(m, c)],
    ['drawArraysInstanced', (m, first, c, inst) => count(m, c, inst)],
    ['drawElementsInstanced', (m, c, t, o, inst) => count(m, c, inst)]]) {
    const orig = proto[name];
    if (!orig) continue;
    proto[name] = function (...args) { f(...args); return orig.apply(this, args); };
  }
  const getExt = proto.getExtension;
  proto.getExtension = function (name) {
    const ext = getExt.call(this, name);
    if (ext && name === 'ANGLE_instanced_arrays' && !ext.__wrapped) {
      const a = ext.drawArraysInstancedANGLE, e = ext.drawElementsInstancedANGLE;
      ext.drawArraysInstancedANGLE = function (m, first, c, inst) { count(m, c, inst); return a.apply(this, arguments); };
      ext.drawElementsInstancedANGLE = function (m, c, t, o, inst) { count(m, c, inst); return e.apply(this, arguments); };
      ext.__wrapped = true;
    }
    return ext;
  };
}
wrap(window.WebGLRenderingContext && WebGLRenderingContext.prototype);
wrap(window.WebGL2RenderingContext && WebGL2RenderingContext.prototype);

// one rAF loop that closes each frame's count: frameLog[i] = [time, points drawn in the frame before]
const frameLog = [];
let logging = true;
function tick(t) {
  frameLog.push([t, drawnNow]);
  drawnNow = 0;
  if (frameLog.length > 100000) frameLog.splice(0, 50000);
  if (logging) requestAnimationFrame(tick);
}
requestAnimationFrame(tick);

export const nextFrame = () => new Promise((r) => requestAnimationFrame(r));

export function param(name, dflt) {
  const v = new URLSearchParams(location.search).get(name);
  return v === null ? dflt : v;
}

export async function loadPoints() {
  const n = Number(param('n', '100000'));
  B.n = n;
  const buf = await (await fetch(`/data/${n}.bin`)).arrayBuffer();
  const t0 = performance.now();                      // the data have arrived
  return { n, t0, x: new Float32Array(buf, 0, n), y: new Float32Array(buf, 4 * n, n),
           cat: new Uint8Array(buf, 8 * n, n), buf };
}

// first paint: the frame after the first frame in which at least half of the points were drawn
export async function waitFirstPaint(n, t0, timeoutMs = 120000) {
  B.phase = 'painting';
  let seen = frameLog.length;
  for (;;) {
    await nextFrame();
    for (; seen < frameLog.length; seen++) {
      if (frameLog[seen][0] >= t0 - 1 && frameLog[seen][1] >= n / 2) {
        B.drawnAtPaint = frameLog[seen][1];
        await nextFrame();
        B.firstPaintMs = performance.now() - t0;
        B.phase = 'painted';
        return;
      }
    }
    if (performance.now() - t0 > timeoutMs) {
      B.error = B.error || `no frame drew ${n / 2} points within ${timeoutMs} ms`;
      B.phase = 'failed';
      throw new Error(B.error);
    }
  }
}

// a scripted pan/zoom: `frames` steps; each sets the camera through move(i, frames) in an animation frame and
// is timed from there to the first animation frame after a frame in which WebGL drew (the library's redraw
// of the new view: regl-scatterplot and embedding-atlas draw in their own next animation frame, so two
// frames, 33 ms, are the floor of this measure). Returns the median and p95 (ms) and the points drawn.
export function installFrames(move) {
  // frames steps of the path from step `from` (runFrames(1, 30, 15): the path's middle, zoomed in 2.5x)
  B.runFrames = async (frames = 60, of = frames, from = 0) => {
    const dt = [], drawn = [];
    for (let i = from; i < from + frames; i++) {
      await nextFrame();
      const t = performance.now();
      const from = frameLog.length;
      move(i, of);
      for (;;) {
        await nextFrame();
        const hit = frameLog.slice(from).find((f) => f[1] > 0);
        if (hit) { drawn.push(hit[1]); break; }
        if (performance.now() - t > 10000) { drawn.push(0); break; }    // the view did not redraw
      }
      dt.push(performance.now() - t);
    }
    const s = dt.slice().sort((a, b) => a - b);
    const d = drawn.slice().sort((a, b) => a - b);
    B.frameStats = { median: s[Math.floor(s.length / 2)], p95: s[Math.min(s.length - 1, Math.floor(0.95 * s.length))],
                     drawnMedian: d[Math.floor(d.length / 2)], framesWithDraws: drawn.filter((v) => v > 0).length };
    return B.frameStats;
  };
}

// the camera path shared by the pages: a circle of radius 0.3 around the centre while the zoom goes from 1x
// to 2.5x and back (centre cx, cy in data units, zoom z: the view's half-width is 1 / z)
export function cameraAt(i, frames) {
  const a = (i / frames) * 2 * Math.PI;
  return { cx: 0.3 * Math.sin(a), cy: 0.3 * Math.cos(a), z: 1 + 1.5 * Math.sin((i / frames) * Math.PI) };
}

export const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

export function fail(e) {
  B.error = B.error || String(e && e.message ? e.message : e);
  B.stack = e && e.stack ? String(e.stack).slice(0, 2000) : '';
  B.phase = 'failed';
}
