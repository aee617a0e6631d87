// One-command rebuild: npm --prefix vae/ui/components/latent_control/ort/frontend ci &&
//                      npm --prefix vae/ui/components/latent_control/ort/frontend run build
// Writes ../dist/ort.wasm.js (ES module, minified) and copies the one .wasm it needs beside it.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "..", "dist");
mkdirSync(dist, { recursive: true });
await build({
  entryPoints: [join(here, "src", "ort_entry.mjs")],
  outfile: join(dist, "ort.wasm.js"),
  bundle: true, format: "esm", minify: true, platform: "browser", target: "es2020",
  legalComments: "eof", logLevel: "info",
});
copyFileSync(join(here, "node_modules", "onnxruntime-web", "dist", "ort-wasm-simd-threaded.wasm"),
             join(dist, "ort-wasm-simd-threaded.wasm"));
