// A renderer for regl-scatterplot that draws straight into the page's canvas.
//
// regl-scatterplot's own renderer draws every frame into a float framebuffer the size of the frame's window,
// copies that through a full-window shader pass into a hidden WebGL canvas, and then drawImage()s the hidden
// canvas into ours: a read-back of the whole window from the GPU process on every frame. In Chromium's
// software WebGL (SwiftShader) that was ~40 ms a frame with only 1,000 points to draw (bench/webgl_map.py).
// This one keeps regl-scatterplot's draw calls and drops the rest: the context lives on the page's canvas
// (opaque, no multisampling), each frame clears it to the background and draws the points into it, and the
// browser composites it like any WebGL canvas. regl-scatterplot takes it through its `renderer` option
// (the interface of its createRenderer: canvas, regl, gamma, render, resize, onFrame, refresh, destroy), plus
// afterRender and capture (a frame read back, for the map as PNG: snapshot.js).
//
// Frames on demand. regl-scatterplot asks for a frame loop (regl.frame) that runs every animation frame for as
// long as the page is open, and draws only when something changed. That loop alone kept Chromium's renderer and
// compositor busy on a map nobody touched: 1.1 CPU cores with software WebGL on the Latent map page at rest. Here
// the loop runs only while it may have something to draw: `wake()` starts it (the map's input events, every call
// of the plot's API: plot.js wraps them, and the promise such a call returns until it settles), and it stops
// itself after IDLE_FRAMES frames in a row with nothing drawn.
import createRegl from 'regl';

// what regl-scatterplot asks of the context (its GL_EXTENSIONS): float textures for its point state
const EXTENSIONS = ['OES_texture_float', 'OES_element_index_uint', 'WEBGL_color_buffer_float', 'EXT_float_blend'];
// frames in a row with nothing drawn before the loop rests (half a second at 60 frames a second)
const IDLE_FRAMES = 30;
const WAKE_EVENTS = ['pointerdown', 'pointermove', 'pointerup', 'mousedown', 'mousemove', 'mouseup', 'wheel',
  'dblclick', 'keydown', 'keyup', 'resize', 'orientationchange'];

export function directRenderer(canvas, background = [1, 1, 1, 1]) {
  const gl = canvas.getContext('webgl', { antialias: false, alpha: false, preserveDrawingBuffer: false });
  if (!gl) throw new Error('no WebGL context on the map canvas');
  const extensions = EXTENSIONS.filter((e) => gl.getExtension(e));
  const regl = createRegl({ gl, extensions });
  const drawFns = new Set();
  const afterFns = new Set();      // called after each frame's points are drawn (index.js's test probe)
  let captures = [];               // one-shot: called with the canvas right after the next frame is drawn
  const clear = { color: background, depth: 1 };
  let destroyed = false;
  let raf = 0;          // the next frame's request, 0 while the loop rests
  let idle = 0;         // frames in a row with nothing drawn
  let renders = 0;      // frames drawn so far
  let pending = 0;      // promises of API calls not settled yet (their work may ask for a frame when done)
  const tick = () => {
    raf = 0;
    if (destroyed) return;
    regl.poll();
    const before = renders;
    for (const f of drawFns) f();
    if (renders !== before) gl.flush();
    idle = renders !== before || pending > 0 ? 0 : idle + 1;
    if (idle < IDLE_FRAMES) raf = requestAnimationFrame(tick);
  };
  const wake = () => {
    idle = 0;
    if (!raf && !destroyed) raf = requestAnimationFrame(tick);
  };
  // input anywhere in the map's frame (regl-scatterplot listens on the canvas and on the window)
  for (const e of WAKE_EVENTS) window.addEventListener(e, wake, { capture: true, passive: true });
  wake();
  let gamma = 1;      // (regl-scatterplot's gamma pass is not run: colours go to the canvas as they are)
  return {
    get canvas() { return canvas; },
    get regl() { return regl; },
    get gamma() { return gamma; },
    set gamma(g) { gamma = +g; },
    get isSupported() { return extensions.length === EXTENSIONS.length; },
    get isDestroyed() { return destroyed; },
    // start the frame loop (it rests after IDLE_FRAMES frames with nothing drawn)
    wake,
    // keep the loop going until `promise` settles (an API call's work that may ask for a frame when done)
    hold(promise) {
      pending += 1;
      wake();
      const done = () => { pending -= 1; wake(); };
      promise.then(done, done);
    },
    // frames drawn so far, and whether the loop is running (the test hooks)
    get renders() { return renders; },
    get looping() { return raf !== 0; },
    render(draw) {
      renders += 1;
      regl.clear(clear);
      draw();
      for (const f of afterFns) f();
      if (captures.length) {         // the drawing buffer holds this frame until the task ends: copy it now
        const now = captures;
        captures = [];
        for (const f of now) f(canvas);
      }
    },
    afterRender(f) {
      afterFns.add(f);
      return () => afterFns.delete(f);
    },
    // f(canvas) is called synchronously after the next frame is drawn (the only time a canvas made without
    // preserveDrawingBuffer can be read: snapshot.js copies it with drawImage)
    capture(f) { captures.push(f); },
    resize() {},      // regl-scatterplot sizes the canvas itself (its width and height setters)
    onFrame(f) {
      drawFns.add(f);
      return () => drawFns.delete(f);
    },
    refresh() { regl.poll(); },
    destroy() {
      destroyed = true;
      if (raf) cancelAnimationFrame(raf);
      raf = 0;
      for (const e of WAKE_EVENTS) window.removeEventListener(e, wake, { capture: true });
      regl.destroy();
    },
  };
}
