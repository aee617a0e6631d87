// "Map as PNG": the map as it is drawn now (the view, the colours, the selection, the thumbnails and rings, the
// legend) as a PNG file, made in the browser (no server, nothing fetched) at PNG_SCALE times the canvas's pixels.
//
// regl-scatterplot's own export() reads the canvas through a 2-d context, which a canvas holding our WebGL context
// (renderer.js) has not. So: every size regl-scatterplot draws at is its CSS size times window.devicePixelRatio,
// read live (the canvas's buffer, the point sizes, the outlines); with that ratio raised PNG_SCALE times for one
// frame, it draws the same view at PNG_SCALE times the pixels (the canvas keeps its CSS size on the page), the
// renderer hands that frame over as it is drawn (capture), and the ratio and the size go back. The overlay
// (thumbnails, rings) and the legend are drawn again at the same scale onto the PNG's 2-d canvas.
import { S, canvas, legendEl, noteEl } from './store.js';
import { lodOff } from './selection.js';
import { layout } from './plot.js';
import { paintOverlay } from './overlay.js';

export const PNG_SCALE = 4;                  // as the Plotly map's camera button (vae/ui/map/export.py png_config)
export const PNG_MAX_PIXELS = 24e6;          // ... less where the canvas is so large that 4x would pass this
const CAPTURE_MS = 20000;                    // a frame that never comes (a lost WebGL context): give up
const LEGEND_CSS_PX = 150;                   // the legend's column in the PNG, at least (CSS px)
const FONT = '"Source Sans Pro", sans-serif';

export const saved = { count: 0, last: null, error: null };   // the test hook reads these (index.js)

// The scale the canvas can be drawn at: PNG_SCALE, less where the GPU's largest buffer or PNG_MAX_PIXELS say so
function scaleFor(w, h, dpr) {
  const gl = S.renderer.regl._gl;
  const vp = gl.getParameter(gl.MAX_VIEWPORT_DIMS);
  const most = Math.min(gl.getParameter(gl.MAX_RENDERBUFFER_SIZE), vp[0], vp[1]);
  return Math.max(1 / dpr, Math.min(PNG_SCALE, most / (w * dpr), most / (h * dpr),
                                    Math.sqrt(PNG_MAX_PIXELS / (w * h * dpr * dpr))));
}

// One frame of the map drawn at `px` device pixels per CSS px, copied onto a new 2-d canvas
async function drawnAt(px, w, h) {
  const own = Object.getOwnPropertyDescriptor(window, 'devicePixelRatio');
  const shot = document.createElement('canvas');
  let timer = null;
  Object.defineProperty(window, 'devicePixelRatio', { configurable: true, get: () => px });
  try {
    S.plot.set({ width: w, height: h });        // the buffer: w x h CSS px times the ratio now read
    await new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error('the map was not drawn')), CAPTURE_MS);
      S.renderer.capture((c) => {
        shot.width = c.width;
        shot.height = c.height;
        shot.getContext('2d').drawImage(c, 0, 0);
        resolve();
      });
      S.plot.redraw();
    });
  } finally {
    clearTimeout(timer);
    if (own) Object.defineProperty(window, 'devicePixelRatio', own);
    else delete window.devicePixelRatio;
    layout(true);                               // the canvases as they were (a render message meanwhile read 4x)
    S.plot.redraw();
  }
  return shot;
}

function legendWidth(ctx) {
  const a = S.lastArgs;
  ctx.font = `13px ${FONT}`;
  let widest = 0;
  for (const { name } of a.legend || []) widest = Math.max(widest, ctx.measureText(String(name)).width + 22);
  if (a.colorbar) {
    ctx.font = `600 13px ${FONT}`;
    widest = Math.max(widest, ctx.measureText(String(a.colorbar.name)).width);
  }
  return Math.max(LEGEND_CSS_PX, Math.ceil(widest) + 24);
}

// The legend as the page shows it beside the canvas: category swatches, or the colour bar with its ends
function paintLegend(ctx, x, px) {
  const a = S.lastArgs;
  ctx.setTransform(px, 0, 0, px, 0, 0);
  ctx.fillStyle = '#31333f';
  ctx.textBaseline = 'middle';
  ctx.font = `13px ${FONT}`;
  let y = 14;
  if (a.legend) {
    for (const { name, color } of a.legend) {
      ctx.fillStyle = color;
      ctx.beginPath();
      ctx.arc(x + 6, y, 5.5, 0, 2 * Math.PI);
      ctx.fill();
      ctx.fillStyle = '#31333f';
      ctx.fillText(String(name), x + 18, y);
      y += 19;
    }
  } else if (a.colorbar) {
    const cb = a.colorbar;
    ctx.font = `600 13px ${FONT}`;
    ctx.fillText(String(cb.name), x, y);
    ctx.font = `13px ${FONT}`;
    ctx.fillText(String(cb.hi), x, y + 20);
    const top = y + 32, bar = 240;
    const grad = ctx.createLinearGradient(0, top + bar, 0, top);
    cb.colors.forEach((c, i) => grad.addColorStop(i / Math.max(1, cb.colors.length - 1), c));
    ctx.fillStyle = grad;
    ctx.fillRect(x, top, 18, bar);
    ctx.strokeStyle = '#ccc';
    ctx.lineWidth = 1;
    ctx.strokeRect(x, top, 18, bar);
    ctx.fillStyle = '#31333f';
    ctx.fillText(String(cb.lo), x, top + bar + 12);
  }
}

// The map as PNG: a Blob, and its size in pixels
export async function mapPng() {
  await S.drawing;                             // points still arriving: the PNG shows them once drawn
  lodOff();                                    // every point (a large map draws a sample while it moves)
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  const px = dpr * scaleFor(w, h, dpr);
  const shot = await drawnAt(px, w, h);
  const out = document.createElement('canvas');
  const probe = out.getContext('2d');
  const hasLegend = !!(S.lastArgs.legend || S.lastArgs.colorbar) && legendEl.offsetWidth > 0;
  const lw = hasLegend ? legendWidth(probe) : 0;
  out.width = shot.width + Math.round(lw * px);
  const legendH = !hasLegend ? 0 : S.lastArgs.colorbar ? 330 : 24 + 19 * S.lastArgs.legend.length;
  out.height = Math.max(shot.height, Math.round(legendH * px));
  const ctx = out.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.drawImage(shot, 0, 0);
  ctx.save();
  ctx.beginPath();
  ctx.rect(0, 0, shot.width, shot.height);     // (cut at the map's edge, as the page's overlay canvas is)
  ctx.clip();
  paintOverlay(ctx, px);                       // thumbnails and rings, as on the page
  ctx.restore();
  if (hasLegend) paintLegend(ctx, w + 12, px);
  const blob = await new Promise((resolve, reject) => out.toBlob(
    (b) => (b ? resolve(b) : reject(new Error('the PNG could not be made'))), 'image/png'));
  return { blob, width: out.width, height: out.height };
}

// The button's click: the PNG downloaded as `args.png_name`.png
export async function savePng(button) {
  if (!S.plot || !S.n || button.disabled) return;
  button.disabled = true;
  const label = button.textContent;
  button.textContent = 'Saving\u2026';
  try {
    const { blob, width, height } = await mapPng();
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = `${S.lastArgs.png_name || 'map'}.png`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    saved.count += 1;
    saved.last = { width, height, bytes: blob.size };
    saved.error = null;
  } catch (e) {
    console.error(e);
    saved.error = String(e && e.message ? e.message : e);
    noteEl.textContent = `The map could not be saved as PNG: ${saved.error}.`;
    noteEl.hidden = false;
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
}
