// The ONNX path of the browser's decoder (prepended to the latent control's module by Python, after
// decoder.js): a decoder.onnx (vae.browser_onnx.onnx_decoder_export) run with onnxruntime-web's WASM
// backend, single-threaded. The runtime (ort/dist/ort.wasm.js, built from ort/frontend) and its .wasm are
// served by Streamlit from this component's folder (data.ort_base); nothing comes from a CDN.
// Sessions are cached per decoder hash (and per page: window.__latentControlOrt).

const ORT = (window.__latentControlOrt = window.__latentControlOrt || { module: null, pending: new Map(), ready: new Map() });

// exp: the export's header {hash, latent_dim, image_shape, transform, dtype}; bytes: Uint8Array of decoder.onnx.
// Resolves to {session, ort, input, output, image, busy} once the session is created (cached by hash).
function loadOnnxNet(exp, bytes, ortBase) {
  if (ORT.pending.has(exp.hash)) return ORT.pending.get(exp.hash);
  const started = performance.now();
  const p = (async () => {
    if (!ORT.module) ORT.module = import(new URL(ortBase + "ort.wasm.js", window.location.origin).href);
    const mod = await ORT.module;
    const wasmUrl = new URL(ortBase + "ort-wasm-simd-threaded.wasm", window.location.origin).href;
    const session = await mod.createDecoderSession(bytes, wasmUrl);
    const n = exp.image_shape.reduce((a, b) => a * b, 1);
    const net = { hash: exp.hash, session, ort: mod.ort, input: session.inputNames[0], output: session.outputNames[0],
                  latentDim: exp.latent_dim, transform: exp.transform, dtype: exp.dtype || "float32",
                  image: new Float32Array(n), busy: false,
                  loadMs: performance.now() - started };
    ORT.ready.set(exp.hash, net);
    return net;
  })();
  ORT.pending.set(exp.hash, p);
  p.catch(() => ORT.pending.delete(exp.hash));   // a later payload may try again
  return p;
}

// z (D,) -> Promise of Float32Array (C*H*W,) in [0, 1], (C, H, W) order: model.decode (sigmoid of the
// logits for a Bernoulli likelihood, the mean clamped to [0, 1] for a Gaussian one).
async function decodeOnnx(net, z) {
  const input = new net.ort.Tensor("float32", Float32Array.from(z), [1, net.latentDim]);
  const out = await net.session.run({ [net.input]: input });
  const raw = out[net.output].data;
  const img = net.image;
  if (raw.length !== img.length) throw new Error(`decoder.onnx gave ${raw.length} values, expected ${img.length}`);
  if (net.transform === "sigmoid") for (let i = 0; i < img.length; i++) img[i] = 1 / (1 + Math.exp(-raw[i]));
  else for (let i = 0; i < img.length; i++) img[i] = Math.min(1, Math.max(0, raw[i]));
  return img;
}
