import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** Browser files served from the project's own node_modules (the machines may be offline: no CDN). */
const ASSETS: Record<string, { module: string; type: string }> = {
  '/assets/react.js': { module: 'react/umd/react.production.min.js', type: 'text/javascript; charset=utf-8' },
  '/assets/react-dom.js': { module: 'react-dom/umd/react-dom.production.min.js', type: 'text/javascript; charset=utf-8' },
  '/assets/graphiql.js': { module: 'graphiql/graphiql.min.js', type: 'text/javascript; charset=utf-8' },
  '/assets/graphiql.css': { module: 'graphiql/graphiql.min.css', type: 'text/css; charset=utf-8' },
};

const cache = new Map<string, Buffer>();

/** Adds a servable asset (e.g. the explorer page's bundle). */
export function registerAsset(path: string, module: string, type: string): void {
  ASSETS[path] = { module, type };
}

/** The asset at a URL path, or undefined when there is none. */
export async function readAsset(path: string): Promise<{ body: Buffer; type: string } | undefined> {
  const asset = ASSETS[path];
  if (!asset) return undefined;
  let body = cache.get(path);
  if (!body) {
    body = await readFile(asset.module.startsWith('/') ? asset.module : resolveFile(asset.module));
    cache.set(path, body);
  }
  return { body, type: asset.type };
}

/** GraphiQL, wired to this server's /graphql, with a placeholder for the API key header. */
export function graphiqlPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <title>Graft GraphQL</title>
  <link rel="stylesheet" href="/assets/graphiql.css" />
  <style>body { margin: 0; height: 100vh; } #graphiql { height: 100vh; }</style>
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script src="/assets/react.js"></script>
  <script src="/assets/react-dom.js"></script>
  <script src="/assets/graphiql.js"></script>
  <script>
    const fetcher = GraphiQL.createFetcher({ url: '/graphql' });
    const root = ReactDOM.createRoot(document.getElementById('graphiql'));
    root.render(React.createElement(GraphiQL, {
      fetcher,
      defaultEditorToolsVisibility: 'headers',
      headers: JSON.stringify({ Authorization: 'Bearer PASTE_YOUR_KEY (graft keys create --role APP --name me)' }, null, 2),
      defaultQuery: '# Paste an API key into the Headers tab below, then run:\\nquery { viewer { name role } domains { name items activeModel { version strategy } } }\\n',
    }));
  </script>
</body>
</html>`;
}

/**
 * `pkg/path/file.js` inside node_modules. Resolved through the package's package.json
 * because these packages' `exports` maps do not list their UMD builds.
 */
function resolveFile(spec: string): string {
  const parts = spec.split('/');
  const nameParts = spec.startsWith('@') ? 2 : 1;
  const pkg = parts.slice(0, nameParts).join('/');
  return join(dirname(require.resolve(`${pkg}/package.json`)), ...parts.slice(nameParts));
}
