import { existsSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerAsset } from './static-assets.js';

/** Where the analysts' embedding explorer is served. */
export const EXPLORER_PATH = '/explorer';

/**
 * The page's script, compiled by `npm run build` (tsconfig.page.json) from
 * src/explorer-page/explorer.page.ts. Found from the project root so the same path works
 * when the server runs from dist/ and when tests run it from source.
 */
export function explorerBundlePath(): string {
  return join(projectRoot(), 'dist', 'page', 'explorer.page.js');
}

/** Adds the page's scripts to the server's assets: Chart.js's UMD build from node_modules and the compiled page. */
export function registerExplorerAssets(): void {
  // chart.js's `exports` map lists neither its package.json nor its UMD build: go from its CommonJS entry (dist/chart.cjs).
  const chartJs = join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js');
  registerAsset('/assets/chart.js', chartJs, 'text/javascript; charset=utf-8');
  registerAsset('/assets/explorer.js', explorerBundlePath(), 'text/javascript; charset=utf-8');
}

/**
 * Everything on the page comes from this server (no CDN, no inline script), so the policy can
 * forbid the rest; inline styles stay allowed because Chart.js sizes its canvas through them.
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** GET /explorer: the page's HTML shell, or a 503 saying how to build the page when dist/page is missing. */
export function explorerRoute(_req: IncomingMessage, res: ServerResponse): void {
  const bundle = explorerBundlePath();
  if (!existsSync(bundle)) {
    res.writeHead(503, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(`<!doctype html><meta charset="utf-8"><title>Graft explorer not built</title><p>The explorer page is not built: ${bundle} is missing. Run <code>npm run build</code> and reload.</p>`);
    return;
  }
  // The bundle's mtime in its URL: a rebuilt page is fetched again despite the assets' max-age.
  const version = Math.round(statSync(bundle).mtimeMs).toString(36);
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': CONTENT_SECURITY_POLICY });
  res.end(explorerHtml(version));
}

function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}; the explorer page needs the project root`);
    dir = parent;
  }
  return dir;
}

function explorerHtml(version: string): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <meta name="viewport" content="width=device-width, initial-scale=1" />
  <title>Graft embedding explorer</title>
  <link rel="icon" href="data:," />
  <style>
    :root { color-scheme: light; --line: #d9dde3; --muted: #5f6b7a; --accent: #2f5f98; }
    * { box-sizing: border-box; }
    [hidden] { display: none !important; }
    body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2733; background: #f6f7f9; }
    header { display: flex; align-items: center; gap: 16px; padding: 10px 20px; background: #fff; border-bottom: 1px solid var(--line); flex-wrap: wrap; }
    header h1 { font-size: 17px; margin: 0 12px 0 0; }
    nav { display: flex; gap: 4px; padding: 8px 20px 0; }
    nav button { border: 1px solid var(--line); border-bottom: none; background: #eceff3; padding: 7px 14px; border-radius: 6px 6px 0 0; cursor: pointer; font: inherit; }
    nav button.active { background: #fff; font-weight: 600; }
    main { background: #fff; margin: 0 20px 20px; border: 1px solid var(--line); border-radius: 0 6px 6px 6px; padding: 14px 16px; }
    form { display: flex; flex-wrap: wrap; gap: 10px 14px; align-items: end; margin-bottom: 12px; }
    label { display: flex; flex-direction: column; gap: 3px; font-size: 12px; color: var(--muted); }
    select, input { font: inherit; padding: 5px 7px; border: 1px solid var(--line); border-radius: 5px; background: #fff; color: inherit; }
    input[type=number] { width: 90px; }
    button { font: inherit; }
    form button { padding: 6px 14px; border: 1px solid var(--accent); background: var(--accent); color: #fff; border-radius: 5px; cursor: pointer; }
    #key { width: 340px; }
    #forget-key { padding: 4px 10px; border: 1px solid var(--line); background: #fff; border-radius: 5px; cursor: pointer; }
    #status { margin: 10px 20px 0; min-height: 1.4em; color: var(--muted); }
    #status.error, .error { color: #b42318; }
    .ok { color: #1a7f37; }
    .muted { color: var(--muted); }
    .split { display: grid; grid-template-columns: minmax(0, 1fr) 300px; gap: 16px; }
    .grid2 { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 16px; }
    .chart { position: relative; height: 560px; }
    .chart.short { height: 300px; }
    aside { border-left: 1px solid var(--line); padding-left: 14px; max-height: 560px; overflow: auto; }
    aside h2 { font-size: 14px; margin: 0 0 8px; }
    ol { padding-left: 22px; margin: 0; }
    #neighbor-list li { padding: 3px 0; cursor: pointer; display: list-item; }
    #neighbor-list li .score { float: right; font-variant-numeric: tabular-nums; color: var(--muted); }
    #neighbor-list li .muted { font-size: 12px; }
    #neighbor-list li.off-map .name { font-style: italic; }
    .cards { display: flex; gap: 10px; flex-wrap: wrap; margin-bottom: 14px; }
    .card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 150px; }
    .card .value { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
    h3 { font-size: 14px; margin: 14px 0 6px; }
    table { border-collapse: collapse; width: 100%; font-size: 12px; margin-top: 8px; }
    th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid var(--line); }
    td.num { text-align: right; font-variant-numeric: tabular-nums; }
    #report-overlap { list-style: none; padding: 0; display: flex; gap: 14px; flex-wrap: wrap; font-size: 12px; }
  </style>
</head>
<body>
  <header>
    <h1>Graft embedding explorer</h1>
    <form id="key-form" autocomplete="off">
      <label>API key (role ANALYST; kept in this tab only)
        <input id="key" type="password" placeholder="graft_…  (graft keys create --role ANALYST --name me)" required />
      </label>
      <button id="use-key" type="submit">Use key</button>
    </form>
    <span id="viewer"></span>
    <button id="forget-key" type="button" hidden>Forget key</button>
  </header>
  <p id="status" role="status" aria-live="polite"></p>
  <nav>
    <button type="button" data-view="map" class="active">Embedding map</button>
    <button type="button" data-view="compare">Compare models</button>
    <button type="button" data-view="training">Training curves</button>
  </nav>
  <main>
    <section id="view-map">
      <form id="map-form">
        <label>Model <select id="map-model"></select></label>
        <label>Embeddings <select id="map-kind"><option value="ITEM">items</option><option value="USER">users</option></select></label>
        <label>Method <select id="map-method"><option value="PCA">PCA</option><option value="UMAP">UMAP</option></select></label>
        <label>Colour by <select id="map-color"><option value="TAG">tag</option><option value="DOMAIN">domain</option><option value="POPULARITY">popularity</option></select></label>
        <label>Points (≤ 20,000) <input id="map-sample" type="number" min="1" max="20000" value="2000" required /></label>
        <label>Seed <input id="map-seed" type="number" min="0" value="1" required /></label>
        <label>Neighbours <input id="neighbor-count" type="number" min="1" max="100" value="10" /></label>
        <button id="map-draw" type="submit">Draw</button>
      </form>
      <div class="split">
        <div id="map-box" class="chart" data-state="empty" data-points="0"><canvas id="map-chart"></canvas></div>
        <aside>
          <h2 id="neighbor-title">Nearest neighbours</h2>
          <p id="neighbor-hint" class="muted">Click a point to list its nearest neighbours in the model (exact cosine search).</p>
          <ol id="neighbor-list"></ol>
        </aside>
      </div>
      <p id="map-info" class="muted"></p>
    </section>
    <section id="view-compare" hidden>
      <form id="compare-form">
        <label>Model a (e.g. the pretrained source) <select id="compare-a"></select></label>
        <label>Model b (e.g. the transferred model) <select id="compare-b"></select></label>
        <label>k <input id="compare-k" type="number" min="1" max="100" value="10" /></label>
        <label>User maps <select id="compare-method"><option value="PCA">PCA</option><option value="UMAP">UMAP</option></select></label>
        <button id="compare-run" type="submit">Compare</button>
      </form>
      <div id="compare-box" data-state="empty">
        <div id="compare-summary" class="cards"></div>
        <div class="grid2">
          <div>
            <h3>How far each layer moved from a to b</h3>
            <div class="chart short"><canvas id="layers-chart"></canvas></div>
            <table id="layers-table"></table>
          </div>
          <div>
            <h3>Transfer report</h3>
            <p id="report-none" class="muted" hidden>Neither model has a transfer report.</p>
            <div id="report-body">
              <p id="report-flag"></p>
              <div class="chart short"><canvas id="gain-chart"></canvas></div>
              <table id="report-other"></table>
              <ul id="report-overlap"></ul>
              <div class="chart short"><canvas id="strata-chart"></canvas></div>
              <div id="report-trials-box" hidden>
                <p id="report-trials-info" class="muted"></p>
                <table id="report-trials"></table>
              </div>
            </div>
          </div>
        </div>
        <h3>The same users in both models</h3>
        <div id="shared-box" class="grid2" data-shared="0">
          <div class="chart short"><canvas id="shared-a"></canvas></div>
          <div class="chart short"><canvas id="shared-b"></canvas></div>
        </div>
        <p id="shared-info" class="muted"></p>
      </div>
    </section>
    <section id="view-training" hidden>
      <form id="training-form">
        <label>Model <select id="training-model"></select></label>
        <button id="training-show" type="submit">Show</button>
      </form>
      <div id="training-box" class="grid2" data-state="empty">
        <div class="chart short"><canvas id="loss-chart"></canvas></div>
        <div class="chart short"><canvas id="validation-chart"></canvas></div>
      </div>
      <p id="training-info" class="muted"></p>
    </section>
  </main>
  <script src="/assets/chart.js"></script>
  <script type="module" src="/assets/explorer.js?v=${version}"></script>
</body>
</html>`;
}
