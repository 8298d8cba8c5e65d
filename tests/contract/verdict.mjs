// The verdict on proxy.mjs's report, as TAP: every answer kept the contract
// of docs/openapi.yaml, and the answers covered enough of it to mean
// something. Lists the operations and statuses seen, and the operations no
// answer exercised, as comments.
import { readFileSync } from 'node:fs';
import { loadDocument } from './lib.mjs';

const report = JSON.parse(readFileSync(process.argv[2], 'utf8'));
let failed = false;
const check = (ok, what, details = []) => {
  console.log(`${ok ? 'ok' : 'not ok'} - ${what}`);
  for (const line of details) console.log(`# ${line}`);
  failed ||= !ok;
};
const seen = Object.entries(report.seen).sort(([a], [b]) => a.localeCompare(b));
check(report.answers >= 100, `the proxy checked ${report.answers} answers`);
check(report.problems.length === 0,
  `every answer keeps docs/openapi.yaml (${report.problems.length} problems)`, report.problems.slice(0, 50));
for (const [key, count] of seen) console.log(`# ${key} x${count}`);
const exercised = new Set(seen.map(([key]) => key.split(' ').slice(0, 2).join(' ')));
const doc = await loadDocument();
for (const [path, item] of Object.entries(doc.paths))
  for (const method of ['get', 'put', 'post', 'delete'])
    if (item[method] && !exercised.has(`${method.toUpperCase()} ${path}`))
      console.log(`# not exercised: ${method.toUpperCase()} ${path}`);
process.exit(failed ? 1 : 0);
