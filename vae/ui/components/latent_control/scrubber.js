// Path scrubber: one slider t in [0, 1] along an interpolation path z(t) from A to B, decoded in the
// browser every animation frame (decoder.js, prepended by Python, holds WEIGHTS / decodeNet).
//
// data (from vae/ui/latent_control/scrubber.py): key, image_shape [C,H,W], image_px, z_a, z_b (lists),
//   kind ("lerp" | "slerp"), omega (slerp: the angle between z_a and z_b, radians), t,
//   weights_hash, weights (only when this browser lacks them).
// z(t): lerp (1-t) a + t b; slerp sin((1-t) w)/sin w a + sin(t w)/sin w b (vae.analysis.latent.slerp).
// To Python: state "t" on release / key press; trigger "need_weights" when the cache misses;
//   trigger "browser_failed" when the decoder cannot load here.

const PS_HOOK = (window.__pathScrubber = window.__pathScrubber || { instances: {} });

function zAt(d, t) {
  const a = d.z_a;
  const b = d.z_b;
  const z = new Float64Array(a.length);
  if (d.kind === "slerp") {
    const s = Math.sin(d.omega);
    const ca = Math.sin((1 - t) * d.omega) / s;
    const cb = Math.sin(t * d.omega) / s;
    for (let k = 0; k < a.length; k++) z[k] = ca * a[k] + cb * b[k];
  } else {
    for (let k = 0; k < a.length; k++) z[k] = (1 - t) * a[k] + t * b[k];
  }
  return z;
}

function psDraw(st) {
  st.raf = 0;
  const d = st.data;
  const net = WEIGHTS.get(d.weights_hash);
  if (!net) return;
  const t0 = performance.now();
  const values = decodeNet(net, zAt(d, st.t));
  const [C, H, W] = d.image_shape;
  const canvas = st.el.image;
  if (canvas.width !== W || canvas.height !== H) { canvas.width = W; canvas.height = H; st.imageData = null; }
  const ctx = canvas.getContext("2d");
  if (!st.imageData) st.imageData = ctx.createImageData(W, H);
  const px = st.imageData.data;
  const hw = H * W;
  for (let p = 0; p < hw; p++) {
    const r = Math.round(values[p] * 255);
    px[4 * p] = r;
    px[4 * p + 1] = C === 3 ? Math.round(values[hw + p] * 255) : r;
    px[4 * p + 2] = C === 3 ? Math.round(values[2 * hw + p] * 255) : r;
    px[4 * p + 3] = 255;
  }
  ctx.putImageData(st.imageData, 0, 0);
  st.images += 1;
  const now = performance.now();
  if (now - (st.statusAt || 0) > 250) {
    st.statusAt = now;
    st.el.status.textContent = `decoded in your browser \u00b7 ${(now - t0).toFixed(2)} ms`;
  }
}

function psSchedule(st) {
  if (!st.raf) st.raf = requestAnimationFrame(() => psDraw(st));
}

function psSetT(st, t) {
  st.t = Math.max(0, Math.min(1, t));
  st.el.input.value = String(st.t);
  st.el.out.textContent = `t = ${st.t.toFixed(3)}`;
  st.el.input.setAttribute("aria-valuetext", `t = ${st.t.toFixed(3)}`);
  psSchedule(st);
}

export default function (component) {
  const { data, parentElement, setStateValue, setTriggerValue } = component;
  const root = parentElement.querySelector(".ps");
  if (!root || !data) return undefined;
  const st = root.__ps || (root.__ps = {
    el: { image: root.querySelector(".ps-image"), status: root.querySelector(".ps-status"),
          input: root.querySelector(".ps-t"), out: root.querySelector(".ps-out") },
    t: null, dragging: false, askedAt: -1e9, raf: 0, images: 0, imageData: null, pathSig: null,
  });
  st.data = data;
  const [, H, W] = data.image_shape;
  const scale = Math.max(1, Math.floor(data.image_px / Math.max(H, W)));
  st.el.image.style.width = `${W * scale}px`;
  st.el.image.style.height = `${H * scale}px`;
  if (data.weights) {
    try {
      cacheNet(data.weights);
    } catch (err) {
      st.el.status.textContent = "the decoder could not load in your browser";
      setTriggerValue("browser_failed", String(err && err.message ? err.message : err));
      return undefined;
    }
  }
  if (!WEIGHTS.has(data.weights_hash)) {
    if (performance.now() - st.askedAt > 3000) {
      st.askedAt = performance.now();
      setTriggerValue("need_weights", data.weights_hash);
    }
    st.el.status.textContent = "loading the decoder\u2026";
  }
  // a new path (other endpoints or method) or t from Python moves the slider, unless mid-drag
  const sig = JSON.stringify([data.z_a, data.z_b, data.kind, data.t]);
  if (st.t === null || (sig !== st.pathSig && !st.dragging)) psSetT(st, data.t);
  st.pathSig = sig;
  psSchedule(st);

  if (st.listeners) st.listeners.abort();
  const controller = new AbortController();
  st.listeners = controller;
  const on = (el, type, fn) => el.addEventListener(type, fn, { signal: controller.signal });
  const commit = () => setStateValue("t", st.t);
  on(st.el.input, "pointerdown", () => { st.dragging = true; });
  on(st.el.input, "input", (e) => psSetT(st, Number(e.target.value)));
  on(st.el.input, "change", () => { if (!st.dragging) commit(); });
  on(window, "pointerup", () => { if (st.dragging) { st.dragging = false; commit(); } });
  PS_HOOK.instances[data.key] = {
    ready: () => WEIGHTS.has(st.data.weights_hash),
    images: () => st.images,
    setT: (t) => { psSetT(st, t); if (st.raf) { cancelAnimationFrame(st.raf); psDraw(st); } },
    getT: () => st.t,
    path: () => ({ z_a: st.data.z_a, z_b: st.data.z_b, kind: st.data.kind }),
    canvasHash: () => st.el.image.toDataURL(),
    readPixels: () => {
      const [C, HH, WW] = st.data.image_shape;
      const px = st.el.image.getContext("2d").getImageData(0, 0, WW, HH).data;
      const out = new Array(C * HH * WW);
      for (let c = 0; c < C; c++) for (let p = 0; p < HH * WW; p++) out[c * HH * WW + p] = px[4 * p + c];
      return out;
    },
  };
  return () => controller.abort();
}
