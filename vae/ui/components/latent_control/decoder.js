// The browser's decoder, shared by the latent control and the path scrubber (prepended to each
// component's module by Python): weights cache, base64 -> Float32Array, and an exact VAE.decode
// for every decoder the library builds (vae.browser_decoder.export_decoder, format "vae-decoder/2").

const WEIGHTS = (window.__latentControlWeights = window.__latentControlWeights || new Map());
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const MAX_CACHED_MODELS = 4;

// ---- weights and the decoder ----------------------------------------------------------------
function base64ToFloat32(s) {
  const bin = atob(s);
  const n = bin.length;
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) bytes[i] = bin.charCodeAt(i);
  if (LITTLE_ENDIAN) return new Float32Array(bytes.buffer);
  const view = new DataView(bytes.buffer);
  const out = new Float32Array(n / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

// float16 (IEEE half) -> float32
function halfToFloat(h) {
  const e = (h >> 10) & 0x1f, f = h & 0x3ff, sign = h & 0x8000 ? -1 : 1;
  if (e === 0) return sign * f * 2 ** -24;
  if (e === 31) return f ? NaN : sign * Infinity;
  return sign * (1 + f / 1024) * 2 ** (e - 15);
}

// A layer's weights: base64 float32 (JSON export), or [byte offset, count] into `blob` (the latent
// control's binary payload; export_decoder_binary, dtype "float32" or "float16", little-endian).
function floatsOf(ref, exported, blob) {
  if (typeof ref === "string") return base64ToFloat32(ref);
  const [at, n] = ref;
  const half = exported.dtype === "float16";
  if (!blob || at + n * (half ? 2 : 4) > blob.length) throw new Error("latent control: weights outside the payload");
  const view = new DataView(blob.buffer, blob.byteOffset + at, n * (half ? 2 : 4));
  const out = new Float32Array(n);
  if (half) for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
  else for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

const ACTS = new Set(["relu", "tanh", "sigmoid", "none"]);

// The export of vae.browser_decoder.export_decoder (format "vae-decoder/2") -> layers ready to run.
// Activations are kept in Float64Arrays (float64 sums of float32 weights: PyTorch's numbers to ~1e-6).
// Linear layers work on the flat (C, h, w)-ordered vector; after the reshape, feature maps are held
// channels-last (h, w, C) so the innermost loop of a transposed convolution runs over contiguous
// output channels; the last layer's output is put back in (C, H, W) order for the canvas.
function loadNet(exported, blob) {
  if (exported.format !== "vae-decoder/2") throw new Error(`latent control: unknown decoder format ${exported.format}`);
  let shape = [exported.latent_dim];
  const layers = exported.layers.map((l, i) => {
    if (!ACTS.has(l.act)) throw new Error(`latent control: layer ${i} has unknown activation ${l.act}`);
    if (l.op === "linear") {
      const w = floatsOf(l.weight, exported, blob);
      const b = floatsOf(l.bias, exported, blob);
      if (shape.length !== 1 || shape[0] !== l.in || w.length !== l.in * l.out || b.length !== l.out) {
        throw new Error(`latent control: layer ${i} has ${w.length} weights, expected ${l.out}x${l.in}`);
      }
      shape = [l.out];
      return { op: "linear", nIn: l.in, nOut: l.out, w, b, act: l.act, out: new Float64Array(l.out) };
    }
    if (l.op === "reshape") {
      const [C, h, w] = l.shape;
      if (shape.length !== 1 || shape[0] !== C * h * w) throw new Error(`latent control: layer ${i} cannot reshape`);
      shape = [C, h, w];
      return { op: "reshape", C, h, w, act: l.act, out: new Float64Array(C * h * w) };
    }
    if (l.op === "deconv") {
      const Ci = l.in_channels, Co = l.out_channels, k = l.kernel;
      const [h, w] = l.in_size;
      const [H, W] = l.out_size;
      const raw = floatsOf(l.weight, exported, blob);
      const b = floatsOf(l.bias, exported, blob);
      if (shape.length !== 3 || shape[0] !== Ci || shape[1] !== h || shape[2] !== w ||
          raw.length !== Ci * Co * k * k || b.length !== Co ||
          H !== (h - 1) * l.stride - 2 * l.padding + k || W !== (w - 1) * l.stride - 2 * l.padding + k) {
        throw new Error(`latent control: layer ${i} (deconv) does not fit its input ${shape}`);
      }
      // torch's (Ci, Co, k, k) -> (k, k, Ci, Co): the output channels innermost
      const wr = new Float32Array(raw.length);
      for (let ci = 0; ci < Ci; ci++) for (let co = 0; co < Co; co++) for (let ky = 0; ky < k; ky++) {
        for (let kx = 0; kx < k; kx++) wr[((ky * k + kx) * Ci + ci) * Co + co] = raw[((ci * Co + co) * k + ky) * k + kx];
      }
      shape = [Co, H, W];
      return { op: "deconv", Ci, Co, k, s: l.stride, p: l.padding, h, w, H, W, wr, b, act: l.act,
               out: new Float64Array(Co * H * W) };
    }
    throw new Error(`latent control: layer ${i} has unknown op ${l.op}`);
  });
  const n = exported.image_shape.reduce((a, b) => a * b, 1);
  if (shape.reduce((a, b) => a * b, 1) !== n) throw new Error("latent control: decoder output does not fit the image");
  return { hash: exported.hash, latentDim: exported.latent_dim, imageShape: exported.image_shape, layers,
           dtype: exported.dtype || "float32",
           image: new Float32Array(n) };
}

function activate(out, act) {
  const n = out.length;
  if (act === "relu") { for (let i = 0; i < n; i++) if (out[i] < 0) out[i] = 0; }
  else if (act === "tanh") { for (let i = 0; i < n; i++) out[i] = Math.tanh(out[i]); }
  else if (act === "sigmoid") { for (let i = 0; i < n; i++) out[i] = 1 / (1 + Math.exp(-out[i])); }
}

// Transposed convolution, channels-last in and out: out[oy, ox, co] = b[co] +
// sum over (iy, ix, ky, kx, ci) with oy = iy*s - p + ky, ox = ix*s - p + kx of in[iy, ix, ci] * W[ci, co, ky, kx].
function deconv(layer, x) {
  const { Ci, Co, k, s, p, h, w, H, W, wr, b, out } = layer;
  for (let q = 0; q < H * W; q++) out.set(b, q * Co);
  for (let iy = 0; iy < h; iy++) {
    for (let ix = 0; ix < w; ix++) {
      const inBase = (iy * w + ix) * Ci;
      for (let ky = 0; ky < k; ky++) {
        const oy = iy * s - p + ky;
        if (oy < 0 || oy >= H) continue;
        for (let kx = 0; kx < k; kx++) {
          const ox = ix * s - p + kx;
          if (ox < 0 || ox >= W) continue;
          const outBase = (oy * W + ox) * Co;
          const wBase = (ky * k + kx) * Ci * Co;
          for (let ci = 0; ci < Ci; ci++) {
            const v = x[inBase + ci];
            if (v === 0) continue;  // after a ReLU most inputs are zero
            const wb = wBase + ci * Co;
            for (let co = 0; co < Co; co++) out[outBase + co] += v * wr[wb + co];
          }
        }
      }
    }
  }
  return out;
}

// z (D,) -> Float32Array (C*H*W,) in [0, 1], (C, H, W) order: exactly VAE.decode.
function decodeNet(net, z) {
  let x = z;
  let channelsLast = false;
  for (const layer of net.layers) {
    if (layer.op === "linear") {
      const { nIn, nOut, w, b, out } = layer;
      for (let o = 0; o < nOut; o++) {
        let s = b[o];
        const row = o * nIn;
        for (let i = 0; i < nIn; i++) s += w[row + i] * x[i];
        out[o] = s;
      }
      x = out;
    } else if (layer.op === "reshape") {
      const { C, h, w, out } = layer;  // (C, h, w) -> (h, w, C)
      for (let c = 0; c < C; c++) for (let q = 0; q < h * w; q++) out[q * C + c] = x[c * h * w + q];
      x = out;
      channelsLast = true;
    } else {
      x = deconv(layer, x);
    }
    activate(x, layer.act);
  }
  const img = net.image;
  if (channelsLast) {
    const [C, H, W] = net.imageShape;
    for (let c = 0; c < C; c++) for (let q = 0; q < H * W; q++) img[c * H * W + q] = x[q * C + c];
  } else {
    img.set(x);
  }
  return img;
}

function cacheNet(exported, blob) {
  if (WEIGHTS.has(exported.hash)) return WEIGHTS.get(exported.hash);
  const net = loadNet(exported, blob);
  WEIGHTS.set(exported.hash, net);
  while (WEIGHTS.size > MAX_CACHED_MODELS) WEIGHTS.delete(WEIGHTS.keys().next().value);
  return net;
}
