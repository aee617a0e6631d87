// Entry of the latent control's onnxruntime-web bundle (built to ../dist/ort.wasm.js by build.mjs).
// Only the WASM execution provider (no WebGL/WebGPU/JSEP), single-threaded, no proxy worker: no
// SharedArrayBuffer or cross-origin isolation needed. The .wasm is served by Streamlit from the
// component folder (../dist/ort-wasm-simd-threaded.wasm); nothing is fetched from a CDN.
import * as ort from "onnxruntime-web/wasm";

export { ort };

// bytes: Uint8Array of a decoder.onnx (input "z" (B, D) float32, output (B, C, H, W) float32);
// wasmUrl: absolute URL of ort-wasm-simd-threaded.wasm on this server. Resolves to an InferenceSession.
export async function createDecoderSession(bytes, wasmUrl) {
  ort.env.wasm.wasmPaths = { wasm: wasmUrl };
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  return ort.InferenceSession.create(bytes, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
}
