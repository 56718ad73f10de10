// Prints the gzip size of what each page of the build ships (its entry, its imports and their CSS), from
// Vite's manifest. The dashboard's budget (200 KB of JavaScript and CSS, gzip) is checked by a test.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const out = resolve(fileURLToPath(import.meta.url), "../../../usagegraph/http/ui_dist");
const manifest = JSON.parse(readFileSync(resolve(out, ".vite/manifest.json"), "utf8"));

function files(key, seen = new Set()) {
  const chunk = manifest[key];
  if (!chunk || seen.has(key)) return seen;
  seen.add(key);
  for (const imported of chunk.imports ?? []) files(imported, seen);
  return seen;
}

for (const [entry, name] of [["index.html", "dashboard"], ["graphiql.html", "GraphiQL"]]) {
  const shipped = new Set();
  for (const key of files(entry)) {
    shipped.add(manifest[key].file);
    for (const css of manifest[key].css ?? []) shipped.add(css);
  }
  let raw = 0;
  let gz = 0;
  for (const file of shipped) {
    const bytes = readFileSync(resolve(out, file));
    raw += bytes.length;
    gz += gzipSync(bytes, { level: 9 }).length;
  }
  const kb = (n) => (n / 1024).toFixed(1);
  console.log(`${name}: ${shipped.size} files, ${kb(raw)} KB, ${kb(gz)} KB gzip (JavaScript and CSS)`);
}
