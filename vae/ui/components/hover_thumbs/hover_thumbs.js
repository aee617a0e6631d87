// Hover thumbnails for a Plotly map: the image of the point under the mouse, beside Plotly's hover label.
//
// data (from vae/ui/hover_thumbs/__init__.py): tag (the chart's layout.meta), hash (of the image set),
// shape [C, H, W], px (CSS pixels of the thumbnail), and, only when this browser lacks the set,
// index (dataset index of each row) and pixels (base64 uint8, N*C*H*W, channel-planar).
// The sets live on window (they survive reruns and page switches); when one is missing the component
// sends the trigger "need" and Python sends it again. A point's customdata[0] is its dataset index.

const G = (window.__hoverThumbs = window.__hoverThumbs || { sets: new Map(), byTag: new Map(), tip: null, shown: 0 });
const MAX_SETS = 3;

function decodeSet(data) {
  const bin = atob(data.pixels);
  const pixels = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) pixels[i] = bin.charCodeAt(i);
  const rows = new Map();
  data.index.forEach((idx, row) => rows.set(Number(idx), row));
  return { shape: data.shape, rows, pixels };
}

function tip() {
  if (G.tip && document.body.contains(G.tip.box)) return G.tip;
  const box = document.createElement("div");
  box.className = "vae-hover-thumb";
  box.setAttribute("data-testid", "vaeHoverThumb");
  Object.assign(box.style, { position: "fixed", zIndex: 100000, pointerEvents: "none", display: "none",
    padding: "3px", background: "rgba(255,255,255,0.95)", border: "1px solid #999", borderRadius: "4px",
    boxShadow: "0 2px 6px rgba(0,0,0,0.3)" });
  const canvas = document.createElement("canvas");
  Object.assign(canvas.style, { display: "block", imageRendering: "pixelated" });
  box.appendChild(canvas);
  document.body.appendChild(box);
  G.tip = { box, canvas };
  return G.tip;
}

function draw(set, idx, px, ev) {
  const row = set.rows.get(Number(idx));
  if (row === undefined) return hide();
  const [C, H, W] = set.shape;
  const t = tip();
  t.canvas.width = W;
  t.canvas.height = H;
  t.canvas.style.width = `${px}px`;
  t.canvas.style.height = `${Math.round((px * H) / W)}px`;
  const ctx = t.canvas.getContext("2d");
  const img = ctx.createImageData(W, H);
  const base = row * C * H * W;
  for (let p = 0; p < H * W; p++) {
    const r = set.pixels[base + p];
    img.data[4 * p] = r;
    img.data[4 * p + 1] = C === 3 ? set.pixels[base + H * W + p] : r;
    img.data[4 * p + 2] = C === 3 ? set.pixels[base + 2 * H * W + p] : r;
    img.data[4 * p + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  const x = ev && ev.clientX !== undefined ? ev.clientX : 0;
  const y = ev && ev.clientY !== undefined ? ev.clientY : 0;
  const size = px + 8;
  let left = x - size - 16;                      // left of the pointer: Plotly's label sits to its right
  if (left < 4) left = x + 24;
  let top = Math.min(Math.max(4, y - size / 2), window.innerHeight - size - 4);
  Object.assign(t.box.style, { left: `${left}px`, top: `${top}px`, display: "block" });
  t.box.dataset.index = String(idx);
  G.shown += 1;
}

function hide() {
  if (G.tip) G.tip.box.style.display = "none";
}

function bind(tag) {
  for (const gd of document.querySelectorAll(".js-plotly-plot")) {
    if (!gd.layout || gd.layout.meta !== tag || gd.__vaeHoverThumbs === tag || typeof gd.on !== "function") continue;
    gd.__vaeHoverThumbs = tag;
    gd.on("plotly_hover", (ev) => {
      const entry = G.byTag.get(tag);
      const p = ev && ev.points && ev.points.find((q) => q.customdata !== undefined && q.customdata !== null);
      if (!entry || !p) return hide();
      const idx = Array.isArray(p.customdata) ? p.customdata[0] : p.customdata;
      draw(entry.set, idx, entry.px, ev.event);
    });
    gd.on("plotly_unhover", hide);
  }
}

export default function (component) {
  const { data, setTriggerValue } = component;
  if (!data) return undefined;
  if (data.pixels) {
    G.sets.set(data.hash, decodeSet(data));
    while (G.sets.size > MAX_SETS) G.sets.delete(G.sets.keys().next().value);
  }
  const set = G.sets.get(data.hash);
  if (!set) {
    setTriggerValue("need", data.hash);
    return undefined;
  }
  G.byTag.set(data.tag, { set, px: data.px });
  bind(data.tag);
  const timer = setInterval(() => bind(data.tag), 400);   // Streamlit may redraw the chart's element
  return () => { clearInterval(timer); hide(); };
}
