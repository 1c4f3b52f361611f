/**
 * `npm run bench -- NAME [args]`: runs one benchmark (`dist/bench/NAME.js`) with its args;
 * without a name, lists them. Figures belong in BENCHMARKS.md with the command.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const names = readdirSync(here)
  .filter((f) => f.endsWith('.js') && f !== 'run.js')
  .map((f) => f.slice(0, -3))
  .sort();
const [name, ...args] = process.argv.slice(2);
if (!name || !names.includes(name)) {
  process.stderr.write(`${name ? `no benchmark "${name}"; ` : ''}usage: npm run bench -- NAME [args]\nbenchmarks: ${names.join(', ')}\n`);
  process.exit(name ? 1 : 0);
}
const result = spawnSync(process.execPath, [join(here, `${name}.js`), ...args], { stdio: 'inherit' });
process.exit(result.status ?? 1);
