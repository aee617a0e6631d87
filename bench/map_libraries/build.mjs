// Builds one page per library into build/ (`npm run build`): build/<lib>.html + build/<lib>.js, and the
// embedding-atlas workers beside their bundles. Nothing in a page is fetched from outside 127.0.0.1.
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

const pages = {
  'regl-scatterplot': { entry: 'src/regl.js', define: { MAP_RENDERER: 'false' } },
  'regl-scatterplot+map-renderer': { entry: 'src/regl.js', define: { MAP_RENDERER: 'true' } },
  deepscatter: { entry: 'src/deepscatter.js' },
  'embedding-atlas': { entry: 'src/atlas.js', alias: { ATLAS_PACKAGE: 'embedding-atlas' }, define: { WEBGPU_ONLY: 'false' }, workers: 'node_modules/embedding-atlas/dist' },
  'embedding-atlas-latest': { entry: 'src/atlas.js', alias: { ATLAS_PACKAGE: 'embedding-atlas-latest' }, define: { WEBGPU_ONLY: 'true' }, workers: 'node_modules/embedding-atlas-latest/dist' },
};
mkdirSync('build', { recursive: true });
for (const [name, p] of Object.entries(pages)) {
  const dir = `build/${name}`;
  mkdirSync(dir, { recursive: true });
  await esbuild.build({
    entryPoints: [p.entry], bundle: true, minify: true, format: 'esm', target: 'es2022',
    outfile: `${dir}/page.js`, logLevel: 'warning',
    // the map's renderer (imported from the app's frontend) gets this folder's regl, not one of its own
    alias: { regl: resolve('node_modules/regl'), ...(p.alias || {}) },
    loader: { '.wasm': 'file' }, define: { 'process.env.NODE_ENV': '"production"', ...(p.define || {}) },
  });
  for (const f of p.workers ? readdirSync(p.workers).filter((f) => f.endsWith('.worker.js')) : []) {
    copyFileSync(`${p.workers}/${f}`, `${dir}/${f}`);
  }
  writeFileSync(`${dir}/index.html`, `<!doctype html><html><head><meta charset="utf-8"><title>${name}</title>
<style>html,body{margin:0;background:#fff}#plot{position:relative;width:1000px;height:800px;overflow:hidden}
canvas#plot{display:block}</style></head><body>
${name.startsWith('regl-scatterplot') ? '<canvas id="plot"></canvas>' : '<div id="plot"></div>'}
<script type="module" src="page.js"></script></body></html>
`);
}
