import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import initWabt from 'wabt';

/**
 * A hand-written WAT kernel compiled as `npm run wasm` (scripts/wasm.mjs) compiles it, as
 * base64: a kernel's test compares it with the committed bytes, so the two cannot drift apart.
 * Tests only (wabt is a devDependency).
 */
export async function compiledWat(url: URL): Promise<string> {
  const path = fileURLToPath(url);
  const wabt = await initWabt();
  const module = wabt.parseWat(basename(path), readFileSync(path, 'utf8'), { simd: true, bulk_memory: true });
  const { buffer } = module.toBinary({ write_debug_names: false });
  module.destroy();
  return Buffer.from(buffer).toString('base64');
}
