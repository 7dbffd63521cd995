import { defineConfig } from "vite";

// Built into the API package, which serves it at /dashboard/ (sanacloud.api.dashboard).
export default defineConfig({
  base: "/dashboard/",
  build: { outDir: "../api/dashboard/build", emptyOutDir: true, assetsInlineLimit: 0 },
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
});
