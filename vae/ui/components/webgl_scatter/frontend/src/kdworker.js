// The spatial index (KDBush: lasso, points in view, hover neighbourhoods) built in a Web Worker, so that its
// sort (1,000,000 points: 1-2 s in software) runs while the main thread makes regl-scatterplot's point arrays.
// The worker is this same bundle (main.js starts workerMain when there is no document); the points go over
// as one Float32Array copy and the index comes back as its ArrayBuffer (transferred), read with KDBush.from.
import KDBush from 'kdbush';

const NODE_SIZE = 16;
// the bundle's URL, read while it runs (document.currentScript is null later)
const SCRIPT_URL = typeof document !== 'undefined' && document.currentScript ? document.currentScript.src : null;

export const built = { where: null };    // 'worker' or 'page' (the bench and tests read it)

export function buildIndex(xy, n) {     // xy Float32Array (2n,) -> a finished KDBush
  const index = new KDBush(n, NODE_SIZE);
  for (let i = 0; i < n; i++) index.add(xy[2 * i], xy[2 * i + 1]);
  index.finish();
  return index;
}

export function workerMain() {
  self.onmessage = (e) => {
    const { xy, n } = e.data;
    const data = buildIndex(new Float32Array(xy), n).data;
    self.postMessage(data, [data]);
  };
}

// Promise of a finished KDBush over xy (2n,); built on this thread when a worker cannot be made
export function indexInWorker(xy, n) {
  let worker = null;
  try {
    if (SCRIPT_URL && typeof Worker !== 'undefined' && n > 50000) worker = new Worker(SCRIPT_URL);
  } catch (e) {
    worker = null;
  }
  if (!worker) { built.where = 'page'; return Promise.resolve(buildIndex(xy, n)); }
  return new Promise((resolve) => {
    const fallback = () => { worker.terminate(); built.where = 'page'; resolve(buildIndex(xy, n)); };
    worker.onmessage = (e) => { worker.terminate(); built.where = 'worker'; resolve(KDBush.from(e.data)); };
    worker.onerror = (e) => { e.preventDefault(); fallback(); };
    const copy = xy.slice();
    worker.postMessage({ xy: copy.buffer, n }, [copy.buffer]);
  });
}
