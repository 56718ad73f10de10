import { resolve } from "node:path";
import { defineConfig } from "vite";

// The dashboard and GraphiQL are two pages of one build, served by the server under /ui/ (assets) and at
// /ui/... and /graphql (the pages). Nothing is loaded from another origin.
export default defineConfig({
  base: "/ui/",
  logLevel: "warn",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: resolve(__dirname, "../usagegraph/http/ui_dist"),
    emptyOutDir: true,
    manifest: true,
    target: "es2020",
    chunkSizeWarningLimit: 2000,
    reportCompressedSize: false,
    rollupOptions: {
      input: {
        index: resolve(__dirname, "index.html"),
        graphiql: resolve(__dirname, "graphiql.html"),
      },
    },
  },
});
