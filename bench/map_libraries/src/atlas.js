// embedding-atlas's EmbeddingView (the non-Mosaic component: Float32Array x, y and a Uint8Array category);
// the camera set per frame through its viewportState. ATLAS_PACKAGE is set by build.mjs: 0.23.0 (WebGPU, else
// WebGL 2) or 0.26.0 (WebGPU only).
import { EmbeddingView } from 'ATLAS_PACKAGE';
import { COLORS, cameraAt, fail, installFrames, loadPoints, waitFirstPaint } from './common.js';

async function main() {
  const el = document.getElementById('plot');
  const { n, t0, x, y, cat } = await loadPoints();
  let view = null;
  const props = (vp) => ({
    data: { x, y, category: cat }, categoryColors: COLORS, width: el.clientWidth, height: el.clientHeight,
    pixelRatio: 1, viewportState: vp, config: { mode: 'points', autoLabelEnabled: false, downsampleMaxPoints: null },
    theme: { statusBar: false },
  });
  view = new EmbeddingView(el, props({ x: 0, y: 0, scale: 1 }));
  window.__plot = view;
  const shown = () => {
    const msg = el.innerText.trim();
    if (msg) window.__bench.note = msg.slice(0, 200);
  };
  // 0.26.0 (WEBGPU_ONLY, set by build.mjs) without a WebGPU device logs so and never draws (its view says
  // 'WebGPU is unavailable. This view requires a browser with WebGPU support.'): stop there
  const noGpu = new Promise((_, reject) => {
    const poll = () => ((WEBGPU_ONLY && (window.__bench.consoleErrors || []).some((m) => /Could not get WebGPU device/.test(m)))
      ? reject(new Error(`WebGPU unavailable (${window.__bench.consoleErrors.join('; ')}); ` +
                         'no WebGL fallback in this version')) : setTimeout(poll, 100));
    poll();
  });
  try {
    await Promise.race([waitFirstPaint(n, t0, 60000), noGpu]);
  } catch (e) {
    shown();
    throw e;
  }
  shown();
  installFrames((i, frames) => {
    const c = cameraAt(i, frames);
    view.update({ viewportState: { x: c.cx, y: c.cy, scale: c.z } });
  });
}
main().catch(fail);
