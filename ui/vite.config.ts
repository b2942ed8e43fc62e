import { defineConfig, type Plugin } from "vite";
import solid from "vite-plugin-solid";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

// Writes `x.gz` and `x.br` beside every text file of the build, so caic-server embeds
// them precompressed and serves the one the browser accepts.
function precompress(): Plugin {
  let outDir = "dist";
  return {
    name: "caic-precompress",
    apply: "build",
    configResolved(c) {
      outDir = c.build.outDir;
    },
    closeBundle() {
      const walk = (dir: string): string[] =>
        readdirSync(dir).flatMap((n) => {
          const p = join(dir, n);
          return statSync(p).isDirectory() ? walk(p) : [p];
        });
      for (const f of walk(outDir)) {
        if (!/\.(html|js|css|svg|json|webmanifest|txt)$/.test(f)) continue;
        const body = readFileSync(f);
        writeFileSync(f + ".gz", gzipSync(body, { level: 9 }));
        writeFileSync(
          f + ".br",
          brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
        );
      }
    },
  };
}

export default defineConfig({
  plugins: [solid(), precompress()],
  build: { target: "es2022", sourcemap: false },
  server: { proxy: { "/api": "http://localhost:2242" } },
});
