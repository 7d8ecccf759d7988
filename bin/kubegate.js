#!/usr/bin/env node
// Runs the compiled CLI when present (installed package, container image); in a source checkout it
// loads the TypeScript directly through tsx.
import { existsSync } from "node:fs";

// `kubegate manifests | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on("error", (err) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

const compiled = new URL("../dist/cli/main.js", import.meta.url);
let main;
if (existsSync(compiled)) {
  main = await import(compiled.href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  main = await import(new URL("../src/cli/main.ts", import.meta.url).href);
}
process.exitCode = await main.run(process.argv.slice(2));
