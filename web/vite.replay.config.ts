import { defineConfig } from "vite";

// The player's replay for Node (src/audio/replay.cli.ts): one self-contained ES module,
// dist-replay/replay.js, that the benchmark runs with plain `node`, no install beside it.
export default defineConfig({
  publicDir: false,
  ssr: { noExternal: true, target: "node" },
  build: {
    ssr: "src/audio/replay.cli.ts",
    outDir: "dist-replay",
    emptyOutDir: true,
    target: "node20",
    sourcemap: false,
    rolldownOptions: { output: { format: "es", entryFileNames: "replay.js" } },
  },
});
