// regl-scatterplot: the points as typed arrays {x, y, z (category)}, drawn once; the camera set per frame.
// MAP_RENDERER (set by build.mjs): with the Latent map's own renderer (vae/ui/components/webgl_scatter/frontend/
// src/renderer.js: draws straight into the page's canvas, no float framebuffer read back every frame).
import createScatterplot from 'regl-scatterplot';
import { directRenderer } from '../../../vae/ui/components/webgl_scatter/frontend/src/renderer.js';
import { COLORS, cameraAt, fail, installFrames, loadPoints, waitFirstPaint } from './common.js';

async function main() {
  const canvas = document.getElementById('plot');
  const { n, t0, x, y, cat } = await loadPoints();
  const sp = createScatterplot({
    canvas, width: canvas.clientWidth, height: canvas.clientHeight, pointSize: n > 200000 ? 1.5 : 2.5,
    opacity: 0.85, backgroundColor: [1, 1, 1, 1], pointColor: COLORS, colorBy: 'valueA',
    performanceMode: n > 300000, ...(MAP_RENDERER ? { renderer: directRenderer(canvas) } : {}),
  });
  window.__plot = sp;
  const z = new Float32Array(n);
  for (let i = 0; i < n; i++) z[i] = cat[i];
  sp.draw({ x, y, z }, { zDataType: 'categorical' });
  await waitFirstPaint(n, t0);
  installFrames((i, frames) => {
    const c = cameraAt(i, frames);
    sp.zoomToLocation([c.cx, c.cy], 1 / c.z);
  });
}
main().catch(fail);
