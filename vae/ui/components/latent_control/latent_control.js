// Latent control: sliders + a 2-d pad over z, with an image that follows the drag.
//
// Python prepends decoder.js (WEIGHTS, loadNet, decodeNet, cacheNet, base64ToFloat32) and onnx_decoder.js
// (ORT, loadOnnxNet, decodeOnnx) to this module.
//
// Streamlit calls the default export on every render whose `data` changed; the DOM (from the
// component's HTML) persists between calls, so all per-instance state lives on the root element
// (`root.__lc`) and every call re-binds its listeners (removing the previous call's first).
//
// data (from vae/ui/latent_control/__init__.py):
//   key, mode ("browser" (hand-written decoder) | "onnx" (onnxruntime-web) | "server"), latent_dim, image_shape [C,H,W], z (list), echo_seq,
//   dims (display order), labels, inactive (bool per dim), fold_inactive, pad_dims [i,j] | null,
//   range R (sliders span [-R, R]), step, key_step, image_px, pad_px,
//   weights_hash, weights (header of vae.browser_decoder.export_decoder_binary, MLP or conv, only when the
//   browser lacks it; the numbers are in the payload's blob), onnx (header of
//   vae.browser_onnx.onnx_decoder_export, with "at": [offset, length] of decoder.onnx in the blob),
//   ort_base (where Streamlit serves onnxruntime-web's files),
//   image (base64 uint8 C*H*W), image_seq (request seq or null), image_z (list).
// To Python: state "z" = {values, seq} when a drag/keyboard edit ends; trigger "drag" =
//   {z, seq} during a drag (server mode); trigger "need_weights" = hash when the cache misses;
//   trigger "browser_failed" = message when the decoder cannot load here (the server takes over).

const HOOK = (window.__latentControl = window.__latentControl || { instances: {}, stats: {} });
const KEY_COMMIT_DELAY_MS = 250;
const REQUEST_TIMEOUT_MS = 1500;
const MAX_SAMPLES = 4000;

// ---- drawing ----------------------------------------------------------------------------------
function drawValues(st, values, isBytes) {
  const [C, H, W] = st.imageShape;
  const canvas = st.el.image;
  if (canvas.width !== W || canvas.height !== H) {
    canvas.width = W;
    canvas.height = H;
    st.imageData = null;
  }
  const ctx = canvas.getContext("2d");
  if (!st.imageData) st.imageData = ctx.createImageData(W, H);
  const px = st.imageData.data;
  const hw = H * W;
  const q = isBytes ? (v) => v : (v) => Math.round(v * 255);
  for (let p = 0; p < hw; p++) {
    const r = q(values[p]);
    px[4 * p] = r;
    px[4 * p + 1] = C === 3 ? q(values[hw + p]) : r;
    px[4 * p + 2] = C === 3 ? q(values[2 * hw + p]) : r;
    px[4 * p + 3] = 255;
  }
  ctx.putImageData(st.imageData, 0, 0);
}

function cssVar(st, name, fallback) {
  const v = getComputedStyle(st.root).getPropertyValue(name).trim();
  return v || fallback;
}

function drawPad(st) {
  const d = st.data;
  const canvas = st.el.pad;
  if (!d.pad_dims) return;
  const size = d.pad_px;
  const dpr = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(size * dpr)) {
    canvas.width = Math.round(size * dpr);
    canvas.height = Math.round(size * dpr);
    canvas.style.width = `${size}px`;
    canvas.style.height = `${size}px`;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const R = d.range;
  const toPx = (v) => ((v + R) / (2 * R)) * size;
  ctx.fillStyle = cssVar(st, "--st-secondary-background-color", "#f0f2f6");
  ctx.fillRect(0, 0, size, size);
  const text = cssVar(st, "--st-text-color", "#31333f");
  ctx.strokeStyle = text;
  for (let v = -Math.floor(R); v <= Math.floor(R); v++) {
    ctx.globalAlpha = v === 0 ? 0.45 : 0.12;
    ctx.beginPath();
    ctx.moveTo(toPx(v) + 0.5, 0);
    ctx.lineTo(toPx(v) + 0.5, size);
    ctx.moveTo(0, size - toPx(v) + 0.5);
    ctx.lineTo(size, size - toPx(v) + 0.5);
    ctx.stroke();
  }
  ctx.globalAlpha = 1;
  const [i, j] = d.pad_dims;
  const clamp = (v) => Math.max(-R, Math.min(R, v));
  const x = toPx(clamp(st.z[i]));
  const y = size - toPx(clamp(st.z[j]));
  ctx.fillStyle = cssVar(st, "--st-primary-color", "#ff4b4b");
  ctx.beginPath();
  ctx.arc(x, y, 6, 0, 2 * Math.PI);
  ctx.fill();
  ctx.strokeStyle = cssVar(st, "--st-background-color", "#ffffff");
  ctx.lineWidth = 2;
  ctx.stroke();
  ctx.lineWidth = 1;
}

// ---- layout -------------------------------------------------------------------------------------
function fmt(v) {
  return (v >= 0 ? "+" : "\u2212") + Math.abs(v).toFixed(2);
}

function buildLayout(st) {
  const d = st.data;
  const signature = JSON.stringify([d.latent_dim, d.dims, d.labels, d.inactive, d.range, d.step, d.pad_dims,
                                    d.image_px, d.pad_px, d.image_shape, d.fold_inactive]);
  if (signature === st.signature) return;
  st.signature = signature;
  const [, H, W] = d.image_shape;
  st.imageShape = d.image_shape;
  const scale = Math.max(1, Math.floor(d.image_px / Math.max(H, W)));
  st.el.image.style.width = `${W * scale}px`;
  st.el.figure.style.width = `${W * scale + 2}px`;
  st.el.image.style.height = `${H * scale}px`;
  st.el.image.width = W;
  st.el.image.height = H;
  st.imageData = null;

  const box = st.el.sliders;
  box.textContent = "";
  st.inputs = new Array(d.latent_dim).fill(null);
  st.outputs = new Array(d.latent_dim).fill(null);
  // inactive dimensions (the encoder ignores them) fold into a closed <details> after the active ones
  const folded = d.fold_inactive ? d.dims.filter((dim) => d.inactive[dim]) : [];
  let fold = null;
  if (folded.length) {
    fold = document.createElement("details");
    fold.className = "lc-fold";
    fold.open = Boolean(st.foldOpen);
    fold.addEventListener("toggle", () => { st.foldOpen = fold.open; });
    const summary = document.createElement("summary");
    summary.textContent = `${folded.length} inactive dimension${folded.length === 1 ? "" : "s"}`;
    summary.title = "dimensions whose average KL is near 0: the encoder does not use them and the decoder barely responds";
    const inner = document.createElement("div");
    inner.className = "lc-fold-rows";
    fold.append(summary, inner);
  }
  for (const dim of d.dims) {
    const row = document.createElement("div");
    row.className = "lc-row" + (d.inactive[dim] ? " lc-inactive" : "");
    if (d.pad_dims && d.pad_dims.includes(dim)) row.classList.add("lc-on-pad");
    const id = `lc-z-${dim}`;
    const label = document.createElement("label");
    label.htmlFor = id;
    const [name, ...rest] = String(d.labels[dim]).split(" \u00b7 ");
    label.textContent = name;
    if (rest.length) {
      const kl = document.createElement("span");
      kl.className = "lc-kl";
      kl.textContent = " \u00b7 " + rest.join(" \u00b7 ");
      label.appendChild(kl);
    }
    if (d.inactive[dim]) {
      const tag = document.createElement("span");
      tag.className = "lc-tag";
      tag.textContent = "inactive";
      label.append(" ", tag);
    }
    label.title = label.textContent;
    const input = document.createElement("input");
    input.type = "range";
    input.id = id;
    input.min = String(-d.range);
    input.max = String(d.range);
    input.step = String(d.step);
    input.dataset.dim = String(dim);
    const output = document.createElement("output");
    output.htmlFor = id;
    row.append(label, input, output);
    (fold && folded.includes(dim) ? fold.lastChild : box).appendChild(row);
    st.inputs[dim] = input;
    st.outputs[dim] = output;
  }
  if (fold) box.appendChild(fold);
  const legend = st.el.legend;
  legend.hidden = !d.pad_dims && !d.inactive.some(Boolean);
  legend.textContent = "";
  if (d.pad_dims) {
    const mark = document.createElement("span");
    mark.className = "lc-mark";
    mark.textContent = "\u25C9";
    legend.append(mark, " on the pad (moves with it)");
  }
  if (d.inactive.some(Boolean)) {
    const tag = document.createElement("span");
    tag.className = "lc-tag";
    tag.textContent = "inactive";
    legend.append(d.pad_dims ? " \u00b7 " : "", tag, " the encoder does not use it (KL near 0)");
  }
  const padbox = st.el.padbox;
  padbox.hidden = !d.pad_dims;
  if (d.pad_dims) {
    const [i, j] = d.pad_dims;
    const ni = String(d.labels[i]).split(" \u00b7 ")[0];
    const nj = String(d.labels[j]).split(" \u00b7 ")[0];
    st.el.pad.setAttribute("aria-label", `Pad over ${ni} (left-right) and ${nj} (down-up)`);
    st.el.padCaption.textContent = `${ni} \u2192 \u00b7 ${nj} \u2191`;
  }
  syncControls(st);
}

function syncControls(st, onlyDims) {
  const d = st.data;
  const dims = onlyDims === undefined ? d.dims : onlyDims;
  for (const dim of dims) {
    const input = st.inputs[dim];
    if (!input) continue;
    const v = st.z[dim];
    if (Number(input.value) !== v) input.value = String(v);
    input.setAttribute("aria-valuetext", `${String(d.labels[dim]).split(" \u00b7 ")[0]} = ${v.toFixed(2)}`);
    st.outputs[dim].textContent = fmt(v);
  }
  if (d.pad_dims) {
    const [i, j] = d.pad_dims;
    const pad = st.el.pad;
    pad.setAttribute("aria-valuetext", `${st.z[i].toFixed(2)}, ${st.z[j].toFixed(2)}`);
    pad.setAttribute("aria-valuenow", st.z[i].toFixed(2));
    pad.setAttribute("aria-valuemin", String(-d.range));
    pad.setAttribute("aria-valuemax", String(d.range));
    drawPad(st);
  }
}

// ---- the frame loop: one decode (or one server request) per animation frame -------------------
function stats(st) {
  const key = st.data.key;
  if (!HOOK.stats[key]) HOOK.stats[key] = { mode: st.data.mode, images: 0, latency_ms: [], decode_ms: [], requests: 0 };
  HOOK.stats[key].mode = st.data.mode;
  return HOOK.stats[key];
}

function record(list, v) {
  list.push(v);
  if (list.length > MAX_SAMPLES) list.shift();
}

function setStatus(st, text, force = false) {
  const now = performance.now();
  // per-frame updates: 4 a second is plenty, but never leave "loading" up
  if (!force && !st.el.status.textContent.startsWith("loading") && now - (st.statusAt || 0) < 250) return;
  st.statusAt = now;
  st.el.status.textContent = text;
}

function onFrame(st) {
  st.raf = 0;
  if (st.data.mode === "browser") {
    const net = WEIGHTS.get(st.data.weights_hash);
    if (!net) return;
    const t0 = performance.now();
    const out = decodeNet(net, st.z);
    drawValues(st, out, false);
    const t1 = performance.now();
    const s = stats(st);
    s.images += 1;
    record(s.decode_ms, t1 - t0);
    if (st.inputAt !== null) record(s.latency_ms, t1 - st.inputAt);
    st.inputAt = null;
    setStatus(st, `decoded in your browser \u00b7 ${(t1 - t0).toFixed(2)} ms`);
  } else if (st.data.mode === "onnx") {
    onnxFrame(st);
  } else {
    sendRequest(st);
  }
}

// One onnxruntime-web decode at a time; input that arrives meanwhile is drawn by the next one.
function onnxFrame(st) {
  const net = ORT.ready.get(st.data.weights_hash);
  if (!net) return;
  if (net.busy) { st.onnxPending = true; return; }
  net.busy = true;
  st.onnxPending = false;
  const t0 = performance.now();
  const inputAt = st.inputAt;
  st.inputAt = null;
  decodeOnnx(net, st.z).then((img) => {
    drawValues(st, img, false);
    const t1 = performance.now();
    const s = stats(st);
    s.images += 1;
    record(s.decode_ms, t1 - t0);
    if (inputAt !== null) record(s.latency_ms, t1 - inputAt);
    setStatus(st, `decoded in your browser (onnxruntime-web) \u00b7 ${(t1 - t0).toFixed(2)} ms`);
  }).catch((err) => {
    failBrowser(st, err);
  }).finally(() => {
    net.busy = false;
    if (st.onnxPending) scheduleFrame(st);
  });
}

function failBrowser(st, err) {
  if (st.failed) return;
  st.failed = true;
  // the server decodes instead (Python switches this control to server mode and says why on the page)
  setStatus(st, "the decoder could not run in your browser; asking the server\u2026", true);
  st.api.setTriggerValue("browser_failed", String(err && err.message ? err.message : err).slice(0, 200));
}

function scheduleFrame(st) {
  if (!st.raf) st.raf = requestAnimationFrame(() => onFrame(st));
}

function sendRequest(st) {
  if (st.commitHeld) return;        // released: the commit's own run draws the final z
  const now = performance.now();
  if (st.inFlight && now - st.inFlight.sentAt < REQUEST_TIMEOUT_MS) return;  // one at a time
  const z = Array.from(st.z);
  if (st.lastSentZ && sameZ(z, st.lastSentZ)) return;
  st.requestSeq += 1;
  st.inFlight = { seq: st.requestSeq, sentAt: now, inputAt: st.inputAt ?? now };
  st.inputAt = null;
  st.lastSentZ = z;
  stats(st).requests += 1;
  st.api.setTriggerValue("drag", { z, seq: st.requestSeq });
}

function sameZ(a, b, tol = 1e-5) {
  if (!a || !b || a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (Math.abs(a[k] - b[k]) > tol) return false;
  return true;
}

// ---- edits: slider/pad input, and the commit that hands z to Python -----------------------------
function edit(st, changes, eventTime) {
  for (const [dim, v] of changes) st.z[dim] = v;
  st.dirty = true;
  if (st.inputAt === null) st.inputAt = eventTime ?? performance.now();
  syncControls(st, changes.map(([dim]) => dim));
  scheduleFrame(st);
}

function commit(st) {
  clearTimeout(st.commitTimer);
  st.commitTimer = 0;
  if (!st.dirty) return;
  // Server mode: one server run at a time. A commit made while a drag request is in flight waits for
  // its reply: a commit reruns the whole app from the control's fragment, and that rerun overlapping
  // the drag's fragment run made Streamlit's page drop elements drawn after the control until the
  // next run (seen about 1 run in 12 on a loaded machine).
  if (st.data.mode === "server" && st.inFlight && performance.now() - st.inFlight.sentAt < REQUEST_TIMEOUT_MS) {
    st.commitHeld = true;
    const left = REQUEST_TIMEOUT_MS - (performance.now() - st.inFlight.sentAt);
    st.commitTimer = setTimeout(() => { st.inFlight = null; commit(st); }, Math.max(0, left) + 10);  // no reply
    return;
  }
  st.commitHeld = false;
  st.dirty = false;
  st.commitSeq += 1;
  st.api.setStateValue("z", { values: Array.from(st.z), seq: st.commitSeq });
}

function commitSoon(st) {
  clearTimeout(st.commitTimer);
  st.commitTimer = setTimeout(() => commit(st), KEY_COMMIT_DELAY_MS);
}

function bind(st, signal) {
  const d = st.data;
  const on = (el, type, fn, opts = {}) => el.addEventListener(type, fn, { ...opts, signal });
  const box = st.el.sliders;
  on(box, "input", (e) => {
    const dim = Number(e.target.dataset.dim);
    if (Number.isNaN(dim)) return;
    edit(st, [[dim, Number(e.target.value)]], e.timeStamp);
  });
  on(box, "change", (e) => {
    if (e.target.dataset.dim === undefined) return;
    if (st.dragging) return;  // committed on pointerup
    commitSoon(st);
  });
  on(box, "pointerdown", (e) => {
    if (e.target.dataset.dim !== undefined) st.dragging = true;
  });
  on(box, "keydown", (e) => {
    const dim = Number(e.target.dataset.dim);
    if (Number.isNaN(dim)) return;
    const R = d.range;
    const big = e.shiftKey ? 10 : 1;
    let v = st.z[dim];
    switch (e.key) {
      case "ArrowRight": case "ArrowUp": v += d.key_step * big; break;
      case "ArrowLeft": case "ArrowDown": v -= d.key_step * big; break;
      case "PageUp": v += d.key_step * 10; break;
      case "PageDown": v -= d.key_step * 10; break;
      case "Home": v = -R; break;
      case "End": v = R; break;
      default: return;
    }
    e.preventDefault();
    v = Math.round(Math.max(-R, Math.min(R, v)) / d.step) * d.step;
    edit(st, [[dim, Number(v.toFixed(6))]], e.timeStamp);
    commitSoon(st);
  });
  // a released key commits at once (a held key repeats keydowns and commits on its one keyup); the
  // timer above is the fallback for keys whose keyup never comes (focus lost mid-press)
  on(box, "keyup", (e) => {
    if (Number.isNaN(Number(e.target.dataset.dim)) || st.dragging) return;
    commit(st);
  });
  on(window, "pointerup", () => {
    if (st.dragging) {
      st.dragging = false;
      commit(st);
    }
  });
  on(window, "pointercancel", () => {
    if (st.dragging) {
      st.dragging = false;
      commit(st);
    }
  });

  const pad = st.el.pad;
  const padMove = (e) => {
    if (!d.pad_dims) return;
    const r = pad.getBoundingClientRect();
    const R = d.range;
    const fx = Math.max(0, Math.min(1, (e.clientX - r.left) / r.width));
    const fy = Math.max(0, Math.min(1, (e.clientY - r.top) / r.height));
    const snap = (v) => Number((Math.round(v / d.step) * d.step).toFixed(6));
    const [i, j] = d.pad_dims;
    edit(st, [[i, snap(-R + 2 * R * fx)], [j, snap(R - 2 * R * fy)]], e.timeStamp);
  };
  on(pad, "pointerdown", (e) => {
    st.dragging = true;
    st.padDragging = true;
    try { pad.setPointerCapture(e.pointerId); } catch (err) { /* synthetic events have no capture */ }
    pad.focus();
    padMove(e);
  });
  on(pad, "pointermove", (e) => {
    if (st.padDragging) padMove(e);
  });
  const padUp = () => {
    if (!st.padDragging) return;
    st.padDragging = false;
    st.dragging = false;
    commit(st);
  };
  on(pad, "pointerup", padUp);
  on(pad, "lostpointercapture", padUp);
  on(pad, "keyup", () => {
    if (!st.padDragging) commit(st);
  });
  on(pad, "keydown", (e) => {
    if (!d.pad_dims) return;
    const [i, j] = d.pad_dims;
    const R = d.range;
    const s = d.key_step * (e.shiftKey ? 10 : 1);
    let di = 0;
    let dj = 0;
    switch (e.key) {
      case "ArrowRight": di = s; break;
      case "ArrowLeft": di = -s; break;
      case "ArrowUp": dj = s; break;
      case "ArrowDown": dj = -s; break;
      default: return;
    }
    e.preventDefault();
    const clamp = (v) => Number(Math.max(-R, Math.min(R, v)).toFixed(6));
    edit(st, [[i, clamp(st.z[i] + di)], [j, clamp(st.z[j] + dj)]], e.timeStamp);
    commitSoon(st);
  });
}

// ---- data from Python ----------------------------------------------------------------------------
function base64ToBytes(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// Ask Python for the decoder's weights (at most every 3 s per model: the answer may be on its way)
function askForWeights(st, hash) {
  const last = st.askedForWeights[hash];
  if (last === undefined || performance.now() - last > 3000) {
    st.askedForWeights[hash] = performance.now();
    st.api.setTriggerValue("need_weights", hash);
  }
  setStatus(st, "loading the decoder\u2026", true);
}

function applyData(st) {
  const d = st.data;
  // z from Python is authoritative once Python has seen all of this browser's commits and the
  // user is not mid-edit; otherwise it is an echo of an older state and is ignored.
  const echo = d.echo_seq || 0;
  if (!st.initialised || (echo >= st.commitSeq && !st.dirty && !st.dragging)) {
    st.commitSeq = Math.max(st.commitSeq, echo);
    if (!st.initialised || !sameZ(Array.from(st.z), d.z)) {
      st.z = Float64Array.from(d.z);
      syncControls(st);
      st.lastSentZ = null;
      if (d.mode !== "server") scheduleFrame(st);
    }
    st.initialised = true;
  }

  if (d.mode === "browser") {
    if (d.weights) {
      const t0 = performance.now();
      HOOK.weightPayloads = (HOOK.weightPayloads || 0) + 1;
      try {
        cacheNet(d.weights, d.__blob);
      } catch (err) {
        failBrowser(st, err);
        return;
      }
      HOOK.weightLoadMs = performance.now() - t0;  // bytes -> Float32Array, once per model
      HOOK.weightBytes = d.weights.weight_bytes;
    }
    if (!WEIGHTS.has(d.weights_hash)) {
      askForWeights(st, d.weights_hash);
    } else {
      scheduleFrame(st);
    }
    return;
  }

  if (d.mode === "onnx") {
    if (d.onnx && !ORT.ready.has(d.weights_hash)) {
      HOOK.weightPayloads = (HOOK.weightPayloads || 0) + 1;
      HOOK.weightBytes = d.onnx.onnx_bytes;
      const [at, n] = d.onnx.at;
      const bytes = d.__blob.slice(at, at + n);   // a copy: the session keeps it
      setStatus(st, "loading onnxruntime-web and the decoder\u2026", true);
      loadOnnxNet(d.onnx, bytes, d.ort_base).then((net) => {
        HOOK.weightLoadMs = net.loadMs;          // runtime + wasm + session, once per page and model
        if (st.data.weights_hash === net.hash) scheduleFrame(st);
      }).catch((err) => failBrowser(st, err));
    } else if (!ORT.ready.has(d.weights_hash) && !ORT.pending.has(d.weights_hash)) {
      askForWeights(st, d.weights_hash);
    } else {
      scheduleFrame(st);
    }
    return;
  }

  // server mode: draw a reply to our own request, or the image of Python's z when idle
  const isReply = d.image_seq !== null && d.image_seq !== undefined;
  const draw = () => {
    if (d.image === st.lastImage) return;
    st.lastImage = d.image;
    drawValues(st, base64ToBytes(d.image), true);
    stats(st).images += 1;
  };
  if (isReply && d.image_seq > st.lastDrawnSeq) {
    st.lastDrawnSeq = d.image_seq;
    draw();
    if (st.inFlight && d.image_seq >= st.inFlight.seq) {
      const now = performance.now();
      record(stats(st).latency_ms, now - st.inFlight.inputAt);
      setStatus(st, `decoded on the server \u00b7 ${(now - st.inFlight.sentAt).toFixed(0)} ms round trip`);
      st.inFlight = null;
      if (st.commitHeld) commit(st);
      else if (!sameZ(Array.from(st.z), st.lastSentZ)) scheduleFrame(st);
    }
  } else if (!isReply && d.image) {
    const idle = !st.dragging && !st.dirty && !st.inFlight;
    if (idle || sameZ(d.image_z, Array.from(st.z))) draw();
  }
  if (d.image_seq === null && !st.dragging && st.inFlight) {   // a full run replaced the reply
    st.inFlight = null;
    if (st.commitHeld) commit(st);
  }
  if (st.inFlight && performance.now() - st.inFlight.sentAt >= REQUEST_TIMEOUT_MS) {
    st.inFlight = null;
    if (st.commitHeld) commit(st);
    else scheduleFrame(st);
  }
}

function newState(root) {
  return {
    root,
    el: {
      image: root.querySelector(".lc-image"),
      figure: root.querySelector(".lc-figure"),
      status: root.querySelector(".lc-status"),
      pad: root.querySelector(".lc-pad"),
      padbox: root.querySelector(".lc-padbox"),
      padCaption: root.querySelector(".lc-pad-caption"),
      sliders: root.querySelector(".lc-sliders"),
      legend: root.querySelector(".lc-legend"),
    },
    z: new Float64Array(0), signature: null, initialised: false, dirty: false, dragging: false,
    padDragging: false, inputAt: null, raf: 0, commitSeq: 0, commitTimer: 0, requestSeq: 0,
    inFlight: null, commitHeld: false, lastSentZ: null, lastDrawnSeq: -1, lastImage: null, askedForWeights: {},
  };
}

function registerHook(st) {
  // Test/benchmark hook: drive z and read the canvas exactly as the user would see it.
  HOOK.instances[st.data.key] = {
    mode: () => st.data.mode,
    // which decoder draws the picture: "js" (hand-written), "onnx" (onnxruntime-web) or "server"
    decoder: () => ({ browser: "js", onnx: "onnx", server: "server" })[st.data.mode],
    ready: () => (st.data.mode === "browser" ? WEIGHTS.has(st.data.weights_hash)
      : st.data.mode === "onnx" ? ORT.ready.has(st.data.weights_hash) : true),
    getZ: () => Array.from(st.z),
    // the dtype the decoder's weights came in ("float16" where parity within 1/255 held): the hand-written
    // decoder's weights, or decoder.onnx's initializers for onnxruntime-web
    weightsDtype: () => ((st.data.mode === "onnx" ? ORT.ready : WEIGHTS).get(st.data.weights_hash) || {}).dtype || null,
    // no frame scheduled and no onnxruntime-web decode in flight: the picture is that of getZ()
    settled: () => !st.raf && !st.onnxPending && !(ORT.ready.get(st.data.weights_hash) || {}).busy,
    setZ: (z) => {
      edit(st, z.map((v, dim) => [dim, v]), performance.now());
      if (st.raf) { cancelAnimationFrame(st.raf); onFrame(st); }
    },
    decode: (z) => {
      if (st.data.mode === "onnx") {
        const onnx = ORT.ready.get(st.data.weights_hash);
        return onnx ? decodeOnnx(onnx, z).then((img) => Array.from(img)) : null;   // a Promise
      }
      const net = WEIGHTS.get(st.data.weights_hash);
      return net ? Array.from(decodeNet(net, Float64Array.from(z))) : null;
    },
    readPixels: () => {
      const [C, H, W] = st.imageShape;
      const px = st.el.image.getContext("2d").getImageData(0, 0, W, H).data;
      const out = new Array(C * H * W);
      for (let c = 0; c < C; c++) for (let p = 0; p < H * W; p++) out[c * H * W + p] = px[4 * p + c];
      return out;
    },
    // decode z with any export (tests: parity of every architecture in this browser's JavaScript)
    decodeWith: (exported, zs) => { const net = loadNet(exported); return zs.map((z) => Array.from(decodeNet(net, Float64Array.from(z)))); },
    canvasHash: () => st.el.image.toDataURL(),
    stats: () => stats(st),
    resetStats: () => { delete HOOK.stats[st.data.key]; return stats(st); },
  };
  st.root.dataset.mode = st.data.mode;
  st.root.dataset.key = st.data.key;
}

// Python sends `data` as one binary payload (a Uint8Array here): b"VAE1", u32 LE header length, the
// JSON header, padding to 4 bytes, then the blob of weights or decoder.onnx (data.__blob); not a dict: Streamlit inspects every
// value of a dict for dataframes, which imports pandas and pyarrow on the server's first run (0.3-0.5 s
// before the first picture). Parsed once per payload: Streamlit hands the same array to every re-render.
const PARSED = new WeakMap();
function parseData(raw) {
  if (!raw || !(raw instanceof Uint8Array || raw instanceof ArrayBuffer)) return raw;
  let data = PARSED.get(raw);
  if (data === undefined) {
    const bytes = raw instanceof Uint8Array ? raw : new Uint8Array(raw);
    const magic = String.fromCharCode(bytes[0], bytes[1], bytes[2], bytes[3]);
    if (magic === "VAE1") {
      const n = new DataView(bytes.buffer, bytes.byteOffset + 4, 4).getUint32(0, true);
      data = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
      data.__blob = bytes.subarray(8 + n + ((4 - ((8 + n) % 4)) % 4));
    } else {
      data = JSON.parse(new TextDecoder().decode(bytes));
    }
    PARSED.set(raw, data);
  }
  return data;
}

export default function (component) {
  const { parentElement, setStateValue, setTriggerValue } = component;
  const data = parseData(component.data);
  const root = parentElement.querySelector(".lc");
  if (!root || !data) return undefined;
  const st = root.__lc || (root.__lc = newState(root));
  st.api = { setStateValue, setTriggerValue };
  st.data = data;
  if (st.z.length !== data.latent_dim) {
    st.z = Float64Array.from(data.z);
    st.initialised = false;
  }
  buildLayout(st);
  // Streamlit keeps only the latest cleanup and runs it at unmount, not before a re-render with new
  // data, so the previous render's listeners are removed here.
  if (st.listeners) st.listeners.abort();
  const controller = new AbortController();
  st.listeners = controller;
  bind(st, controller.signal);
  applyData(st);
  if (data.pad_dims) drawPad(st);  // the theme may have changed
  registerHook(st);
  return () => controller.abort();
}
