// Rings over a Plotly map: the neighbours of a query ringed and the query starred, drawn in an SVG laid over
// the chart's plot area, so the figure itself (and with it the chart's selection) never changes.
//
// data (from __init__.py): tag (the chart's layout.meta), rings [[x, y], ...] in data coordinates, star [x, y]
// or null, colour. Redrawn when Plotly redraws or the view is zoomed or panned; an empty list removes them.

const NS = "http://www.w3.org/2000/svg";
const G = (window.__plotRings = window.__plotRings || { byTag: new Map() });

function chart(tag) {
  for (const gd of document.querySelectorAll(".js-plotly-plot")) {
    if (gd.layout && gd.layout.meta === tag && gd._fullLayout && gd._fullLayout.xaxis) return gd;
  }
  return null;
}

function overlay(gd) {
  let svg = gd.querySelector(":scope > svg.vae-plot-rings");
  if (!svg) {
    svg = document.createElementNS(NS, "svg");
    svg.setAttribute("class", "vae-plot-rings");
    svg.setAttribute("data-testid", "vaePlotRings");
    Object.assign(svg.style, { position: "absolute", left: "0px", top: "0px", pointerEvents: "none",
      overflow: "hidden", zIndex: 5 });
    gd.style.position = gd.style.position || "relative";
    gd.appendChild(svg);
  }
  return svg;
}

function draw(tag) {
  const gd = chart(tag);
  const want = G.byTag.get(tag);
  if (!gd || !want) return;
  const svg = overlay(gd);
  const L = gd._fullLayout, xa = L.xaxis, ya = L.yaxis;
  const key = JSON.stringify([want.rings, want.star, xa.range, ya.range, L.width, L.height]);
  if (svg.__key === key) return;
  svg.__key = key;
  svg.setAttribute("width", L.width);
  svg.setAttribute("height", L.height);
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const clip = { x0: xa._offset, x1: xa._offset + xa._length, y0: ya._offset, y1: ya._offset + ya._length };
  const px = ([x, y]) => [xa._offset + xa.l2p(x), ya._offset + ya.l2p(y)];
  const inside = ([x, y]) => x >= clip.x0 && x <= clip.x1 && y >= clip.y0 && y <= clip.y1;
  for (const p of want.rings) {
    const [cx, cy] = px(p);
    if (!inside([cx, cy])) continue;
    const c = document.createElementNS(NS, "circle");
    c.setAttribute("cx", cx); c.setAttribute("cy", cy); c.setAttribute("r", 7);
    c.setAttribute("fill", "none"); c.setAttribute("stroke", want.colour); c.setAttribute("stroke-width", 2.5);
    c.setAttribute("class", "ring");
    svg.appendChild(c);
  }
  if (want.star) {
    const [cx, cy] = px(want.star);
    if (inside([cx, cy])) {
      const s = document.createElementNS(NS, "path");
      const pts = [];
      for (let i = 0; i < 10; i++) {
        const r = i % 2 ? 4 : 10, a = -Math.PI / 2 + (i * Math.PI) / 5;
        pts.push(`${(cx + r * Math.cos(a)).toFixed(1)},${(cy + r * Math.sin(a)).toFixed(1)}`);
      }
      s.setAttribute("d", `M${pts.join("L")}Z`);
      s.setAttribute("fill", want.colour); s.setAttribute("stroke", "white"); s.setAttribute("stroke-width", 1);
      s.setAttribute("class", "star");
      svg.appendChild(s);
    }
  }
}

function bind(tag) {
  const gd = chart(tag);
  if (!gd || gd.__vaePlotRings === tag || typeof gd.on !== "function") return;
  gd.__vaePlotRings = tag;
  gd.on("plotly_afterplot", () => draw(tag));
  gd.on("plotly_relayout", () => draw(tag));
}

export default function (component) {
  const { data } = component;
  if (!data) return undefined;
  G.byTag.set(data.tag, { rings: data.rings || [], star: data.star || null, colour: data.colour || "#e4007c" });
  const tick = () => { bind(data.tag); draw(data.tag); };
  tick();
  const timer = setInterval(tick, 300);            // Streamlit may redraw the chart's element
  return () => { clearInterval(timer); };
}
