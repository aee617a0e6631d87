// Hover: the point's image in a box beside it, and the thumbnail atlas sent from Python.
import { HOVER_ASK, HOVER_PX, HOVER_REST_MS, S, canvas, hoverEl, hoverImg, hoverText, state, thumbs } from './store.js';
import { sendValue, sent } from './messaging.js';
import { drawOverlay } from './overlay.js';
// ---- hover: the point's image in a box beside it (asked from Python with its neighbours when not held) ----
export const hover = { p: -1, timer: null, buttons: false };
export function showHover(p) {
  hover.p = p;
  // no hover box (nor a rerun for its image) while a lasso is drawn or the view dragged
  if (!S.plot || p < 0 || p >= S.n || hover.buttons || S.plot.get('mouseMode') === 'lasso') { hideHover(); return; }
  const names = S.lastArgs.names;
  const name = S.cats && names ? names[S.cats[p]] : null;
  hoverText.textContent = `#${p}` + (name != null ? ` \u00b7 ${name}` : '');
  const ctx = hoverImg.getContext('2d');
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, hoverImg.width, hoverImg.height);
  const t = thumbs.get(p);
  const images = S.lastArgs.hover_images !== false;     // false: no thumbnails will come
  hoverImg.hidden = !images;
  if (t) {
    ctx.drawImage(t.bmp, t.sx, t.sy, t.w, t.h, 0, 0, HOVER_PX, HOVER_PX);
  } else if (images) {
    ctx.fillStyle = '#808495';
    ctx.font = '12px sans-serif';
    ctx.fillText('loading\u2026', 30, 60);
    clearTimeout(hover.timer);
    hover.timer = setTimeout(() => askAround(p), HOVER_REST_MS);
  }
  placeHover(p);
  hoverEl.hidden = false;
  window.__scatter._hovered = p;
  window.__scatter._hoverShown = t ? p : -1;
}
export function placeHover(p) {
  const s = S.plot.getScreenPosition(p);
  if (!s) return;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  const bw = (hoverImg.hidden ? 60 : HOVER_PX) + 10, bh = (hoverImg.hidden ? 0 : HOVER_PX) + 28;
  const x = s[0] + 14 + bw > w ? s[0] - 14 - bw : s[0] + 14;
  const y = Math.min(Math.max(0, s[1] - bh / 2), Math.max(0, h - bh));
  hoverEl.style.left = `${Math.max(0, x)}px`;
  hoverEl.style.top = `${y}px`;
}
export function hideHover() {
  clearTimeout(hover.timer);
  hover.p = -1;
  hoverEl.hidden = true;
  window.__scatter._hovered = -1;
}
export function askAround(p) {             // the hovered point first, then its nearest points without an image
  if (hover.p !== p || thumbs.has(p)) return;
  const want = [p];
  if (S.kd && S.xyHeld) {
    const x = S.xyHeld[2 * p], y = S.xyHeld[2 * p + 1];
    let r = 0.01;
    let ids = [];
    while (r < 4) {
      ids = S.kd.within(x, y, r);
      if (ids.length >= 4 * HOVER_ASK) break;
      r *= 2;
    }
    ids.sort((a, b) => ((S.xyHeld[2 * a] - x) ** 2 + (S.xyHeld[2 * a + 1] - y) ** 2)
      - ((S.xyHeld[2 * b] - x) ** 2 + (S.xyHeld[2 * b + 1] - y) ** 2));
    for (const i of ids) {
      if (want.length >= HOVER_ASK) break;
      if (i !== p && !thumbs.has(i)) want.push(i);
    }
  }
  state.need = want;
  state.need_seq += 1;
  sendValue();
}

export async function addAtlas(args) {
  if (!args.atlas || !args.atlas_ids || !args.atlas_ids.length) return;
  const bmp = await createImageBitmap(new Blob([args.atlas], { type: 'image/png' }));
  window.__scatter._atlases += 1;
  const t = args.thumb, cols = args.atlas_cols;
  args.atlas_ids.forEach((p, k) => {
    thumbs.set(p, { bmp, sx: (k % cols) * t, sy: Math.floor(k / cols) * t, w: t, h: t });
  });
  // what came is no longer asked for; Python answers the ask that stands on every run, so a page that reruns
  // by itself (ack_thumbs: the live map's fragment) is told at once, or it would send these images each second
  state.need = state.need.filter((p) => !thumbs.has(p) && p < S.n);
  if (args.ack_thumbs && state.need.length !== sent.need) sendValue();
  if (hover.p >= 0 && thumbs.has(hover.p)) showHover(hover.p);
  drawOverlay(false);
}
