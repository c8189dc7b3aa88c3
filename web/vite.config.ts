import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The dev server stands in for nginx: same relative paths, same upgrade handling.
const gateway = process.env.AV_GATEWAY_URL ?? "http://127.0.0.1:8090";
const eventStore = process.env.AV_EVENT_STORE_URL ?? "http://127.0.0.1:8091";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
  },
  worker: {
    format: "es",
  },
  server: {
    host: "127.0.0.1",
    proxy: {
      "/api/realtime/pipecat": { target: gateway, ws: true, changeOrigin: false },
      "/api/voice": { target: gateway, ws: true, changeOrigin: false },
      "/api/realtime/conversations": { target: eventStore, ws: true, changeOrigin: false },
    },
  },
  test: {
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
    environment: "node",
  },
});
