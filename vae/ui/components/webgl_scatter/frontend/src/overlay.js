// Thumbnails and rings on a 2-d canvas over the WebGL one.
import { S, THUMB_MAX_IN_VIEW, THUMB_PX, canvas, overlay, state, thumbs } from './store.js';
import { sendValue } from './messaging.js';
import { lod } from './selection.js';
// ---- thumbnails and rings on a 2-d canvas over the WebGL one -------------------------------------
let needTimer = null;
export function drawOverlay(mayAsk) {
  const ctx = overlay.getContext('2d');
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, overlay.width, overlay.height);
  const drawn = paintOverlay(ctx, devicePixelRatio, mayAsk);
  if (drawn !== null) window.__scatter._thumbsDrawn = drawn;
}

// The thumbnails and rings drawn on ctx, whose pixels are `px` times the canvas's CSS px (the overlay: the device
// pixel ratio; the map as PNG: that times its scale). mayAsk: the images of points in view not held are asked
// for. Returns the thumbnails drawn, or null when nothing was drawn (no points, or the view is moving).
export function paintOverlay(ctx, px, mayAsk = false) {
  ctx.setTransform(px, 0, 0, px, 0, 0);
  if (!S.plot || !S.n) return null;
  // points in view ~ N x (visible share of the [-1, 1] square): skip the index query while zoomed out
  const d = S.plot.get('camera').distance[0];
  if (lod.on) return null;         // moving: thumbnails and rings come back when the view rests
  // view_images false (the live map: its points move every frame), or no images at all: no thumbnails on the points
  const viewImages = S.lastArgs.view_images !== false && S.lastArgs.hover_images !== false;
  const inView = !viewImages || S.n * Math.min(1, d * d) > 20 * THUMB_MAX_IN_VIEW ? null : S.plot.get('pointsInView');
  let drawn = 0;
  ctx.lineWidth = 2;
  if (inView && inView.length <= THUMB_MAX_IN_VIEW) {
    const missing = [];
    for (const p of inView) {
      const t = thumbs.get(p);
      const s = S.plot.getScreenPosition(p);
      if (!t) { missing.push(p); continue; }
      if (!s) continue;
      ctx.drawImage(t.bmp, t.sx, t.sy, t.w, t.h, s[0] - THUMB_PX / 2, s[1] - THUMB_PX / 2, THUMB_PX, THUMB_PX);
      ctx.strokeStyle = borderColor(p);
      ctx.strokeRect(s[0] - THUMB_PX / 2, s[1] - THUMB_PX / 2, THUMB_PX, THUMB_PX);
      drawn += 1;
    }
    if (mayAsk && missing.length) {
      clearTimeout(needTimer);   // ask once the view rests (not on every frame of a zoom)
      needTimer = setTimeout(() => {
        state.need = missing.slice(0, THUMB_MAX_IN_VIEW);
        state.need_seq += 1;
        sendValue();
      }, 150);
    }
  }
  // neighbours ringed and the query marked in magenta (as on the Plotly map); around a thumbnail when shown
  const r = drawn ? THUMB_PX / 2 + 3 : 7;
  ctx.strokeStyle = '#e4007c';
  ctx.lineWidth = 2.5;
  for (const p of S.highlight) {
    const s = S.plot.getScreenPosition(p);
    if (!s) continue;
    ctx.beginPath();
    ctx.arc(s[0], s[1], drawn ? r * 1.45 : r, 0, 2 * Math.PI);
    ctx.stroke();
  }
  if (S.query < 0 && S.queryXy) {        // a clicked spot (or a query image placed on the map): a cross in a square
    const s = screenOf(S.queryXy);
    ctx.lineWidth = 3;
    ctx.strokeRect(s[0] - 9, s[1] - 9, 18, 18);
    ctx.beginPath();
    ctx.moveTo(s[0] - 5, s[1]); ctx.lineTo(s[0] + 5, s[1]);
    ctx.moveTo(s[0], s[1] - 5); ctx.lineTo(s[0], s[1] + 5);
    ctx.stroke();
  }
  if (S.query >= 0) {
    const s = S.plot.getScreenPosition(S.query);
    if (s) {
      ctx.lineWidth = 4;
      const q = drawn ? r + 3 : 10;
      ctx.strokeRect(s[0] - q, s[1] - q, 2 * q, 2 * q);
    }
  }
  return drawn;
}

export function screenOf([x, y]) {        // the inverse of toData: normalised coordinates -> CSS px on the canvas
  const v = S.plot.get('cameraView');
  const w = canvas.clientWidth, h = canvas.clientHeight;
  const ar = S.plot.get('aspectRatio') || 1;
  const cx = x * ar * v[0] + v[12], cy = y * v[5] + v[13];
  return [((cx * h) / w + 1) * (w / 2), ((1 - cy) * h) / 2];
}

export function borderColor(p) {          // a thumbnail's frame: its point's category colour
  const c = S.cats && S.lastArgs.colors ? S.lastArgs.colors[S.cats[p]] : null;
  return c || '#888';
}
