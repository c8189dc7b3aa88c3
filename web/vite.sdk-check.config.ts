import { defineConfig } from "vite";

// The Pipecat client SDK check page (sdk-check/): built apart from the product's client, into
// dist-sdk/, which only the tests serve.
export default defineConfig({
  root: "sdk-check",
  build: { outDir: "../dist-sdk", emptyOutDir: true, target: "es2022", sourcemap: false },
});
