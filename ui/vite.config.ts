import { resolve } from "node:path";
import { defineConfig } from "vite";

// Served by the management server at /client/ (see crates/server/src/webui.rs).
export default defineConfig({
  base: "/client/",
  build: {
    target: "es2022", // noVNC uses top-level await
    outDir: "dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 800,
    rollupOptions: {
      input: {
        main: resolve(import.meta.dirname, "index.html"),
        console: resolve(import.meta.dirname, "console.html"),
      },
    },
  },
  server: {
    proxy: { "/client/api": "http://127.0.0.1:8080", "/client/console": { target: "ws://127.0.0.1:8080", ws: true } },
  },
});
