// deepscatter: the points as an Arrow table of record batches (its in-browser quadtree: batch i's children are
// batches 4i+1..4i+4, the first batch drawn at every zoom), every point allowed (max_points = N). deepscatter's
// dist bundles its own copy of apache-arrow, so a table made with the npm package fails its instanceof checks
// ("Vector constructor expects an Array of Data instances"): the table goes in as Arrow IPC bytes
// (arrow_buffer), which it reads with its own copy; the IPC is made here from the same binary arrays.
import Scatterplot from 'deepscatter';
import { Table, RecordBatch, Schema, Struct, Field, Float32, Dictionary, Utf8, Int8, makeData, tableToIPC, vectorFromArray } from 'apache-arrow';
import { zoomIdentity } from 'd3-zoom';
import { cameraAt, fail, installFrames, loadPoints, waitFirstPaint } from './common.js';

const BATCH = 65536;

function arrowTable(n, x, y, cat) {
  const dict = vectorFromArray(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], new Utf8());
  const catType = new Dictionary(new Utf8(), new Int8());
  const fields = [new Field('x', new Float32()), new Field('y', new Float32()), new Field('category', catType)];
  const type = new Struct(fields);
  const schema = new Schema(fields);
  const batches = [];
  for (let s = 0; s < n; s += BATCH) {
    const m = Math.min(BATCH, n - s);
    const children = [
      makeData({ type: new Float32(), length: m, data: x.subarray(s, s + m) }),
      makeData({ type: new Float32(), length: m, data: y.subarray(s, s + m) }),
      makeData({ type: catType, length: m, data: new Int8Array(cat.buffer, cat.byteOffset + s, m), dictionary: dict }),
    ];
    batches.push(new RecordBatch(schema, makeData({ type, length: m, children })));
  }
  return new Table(batches);
}

async function main() {
  const el = document.getElementById('plot');
  const { n, t0, x, y, cat } = await loadPoints();
  const t1 = performance.now();
  const ipc = tableToIPC(arrowTable(n, x, y, cat), 'file');
  window.__bench.note = `Arrow IPC made in the page: ${(performance.now() - t1).toFixed(0)} ms, ${(ipc.byteLength / 1e6).toFixed(1)} MB`;
  const plot = new Scatterplot('#plot', el.clientWidth, el.clientHeight);
  window.__plot = plot;
  await plot.plotAPI({
    arrow_buffer: ipc, max_points: n, point_size: n > 200000 ? 1.5 : 2.5, alpha: 60,
    background_color: '#ffffff', duration: 0,
    encoding: { x: { field: 'x', transform: 'literal' }, y: { field: 'y', transform: 'literal' },
                color: { field: 'category', range: 'category10' } },
  });
  await waitFirstPaint(n, t0);
  const zoom = plot._zoom;
  const w = el.clientWidth, h = el.clientHeight;
  installFrames((i, frames) => {
    const c = cameraAt(i, frames);
    // d3-zoom transform: screen = k * base + t; the base view shows [-1, 1] across the plot
    const k = c.z;
    const tx = w / 2 - k * (w / 2 + (c.cx * w) / 2), ty = h / 2 - k * (h / 2 - (c.cy * h) / 2);
    zoom.svg_element_selection.call(zoom.zoomer.transform, zoomIdentity.translate(tx, ty).scale(k));
  });
}
main().catch(fail);
