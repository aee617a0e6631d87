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
import createRegl from 'regl';

// what regl-scatterplot asks of the context (its GL_EXTENSIONS): float textures for its point state
const EXTENSIONS = ['OES_texture_float', 'OES_element_index_uint', 'WEBGL_color_buffer_float', 'EXT_float_blend'];

export function directRenderer(canvas, background = [1, 1, 1, 1]) {
  const gl = canvas.getContext('webgl', { antialias: false, alpha: false, preserveDrawingBuffer: false });
  if (!gl) throw new Error('no WebGL context on the map canvas');
  const extensions = EXTENSIONS.filter((e) => gl.getExtension(e));
  const regl = createRegl({ gl, extensions });
  const drawFns = new Set();
  const afterFns = new Set();      // called after each frame's points are drawn (index.js's test probe)
  let captures = [];               // one-shot: called with the canvas right after the next frame is drawn
  const frame = regl.frame(() => { for (const f of drawFns) f(); });
  const clear = { color: background, depth: 1 };
  let destroyed = false;
  let gamma = 1;      // (regl-scatterplot's gamma pass is not run: colours go to the canvas as they are)
  return {
    get canvas() { return canvas; },
    get regl() { return regl; },
    get gamma() { return gamma; },
    set gamma(g) { gamma = +g; },
    get isSupported() { return extensions.length === EXTENSIONS.length; },
    get isDestroyed() { return destroyed; },
    render(draw) {
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
      frame.cancel();
      regl.destroy();
    },
  };
}
