import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const hook = new URL('./support/record-imports.hook.mjs', import.meta.url).href;

/** Imports `specifier` in a fresh Node process (as a package user would) and returns every module URL it resolved. */
function modulesLoadedBy(specifier: string): string[] {
  const script = `
    import { register } from 'node:module';
    import { MessageChannel } from 'node:worker_threads';
    const { port1, port2 } = new MessageChannel();
    const urls = [];
    port1.on('message', (url) => urls.push(url));
    register(${JSON.stringify(hook)}, { data: { port: port2 }, transferList: [port2] });
    const exported = await import(${JSON.stringify(specifier)});
    await new Promise((resolve) => setTimeout(resolve, 50));
    port1.close();
    process.stdout.write(JSON.stringify({ urls, exported: Object.keys(exported).length }));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  const parsed = JSON.parse(out) as { urls: string[]; exported: number };
  expect(parsed.exported).toBeGreaterThan(0);
  return parsed.urls;
}

const loads = (urls: string[], pkg: string) => urls.some((url) => url.includes(`/node_modules/${pkg}/`));

// Runs on the built package (npm test builds first), through package.json "exports".
describe('package entry points', () => {
  it('graft (the library) loads neither Apollo nor type-graphql', () => {
    const urls = modulesLoadedBy('graft');
    expect(urls.some((url) => url.endsWith('/dist/src/index.js'))).toBe(true);
    expect(loads(urls, 'kysely')).toBe(true);
    expect(loads(urls, '@apollo/server')).toBe(false);
    expect(loads(urls, 'type-graphql')).toBe(false);
    expect(loads(urls, 'graphql-ws')).toBe(false);
  });

  it('graft/server loads the GraphQL server, graft/testing the seeds', () => {
    const server = modulesLoadedBy('graft/server');
    expect(loads(server, '@apollo/server')).toBe(true);
    expect(loads(server, 'type-graphql')).toBe(true);
    const testing = modulesLoadedBy('graft/testing');
    expect(testing.some((url) => url.endsWith('/dist/seeds/seed-database.js'))).toBe(true);
    expect(loads(testing, '@apollo/server')).toBe(false);
  });
});
