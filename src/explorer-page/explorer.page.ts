/**
 * The embedding explorer page (served at /explorer, compiled by tsconfig.page.json to
 * dist/page/explorer.page.js). It talks only to this server's /graphql with the analyst's
 * key, which lives in sessionStorage: gone when the tab closes, never sent anywhere else.
 * Charts are Chart.js 4 (its UMD build, served from node_modules as /assets/chart.js).
 */
import type { ActiveElement, Chart as ChartInstance, ChartConfiguration, ChartEvent, TooltipItem } from 'chart.js';

declare const Chart: typeof ChartInstance;

const KEY_STORAGE = 'graft.explorer.key';

// ---- GraphQL -----------------------------------------------------------------------------

type EntityKind = 'USER' | 'ITEM';

interface ModelSummary {
  id: string;
  domain: string;
  version: number;
  kind: string;
  strategy: string | null;
  status: string;
  parent: { id: string } | null;
}

interface ProjectionPoint {
  id: string;
  x: number;
  y: number;
  label: string;
  color: string;
}

interface Projection {
  modelId: string;
  kind: EntityKind;
  method: string;
  colorBy: string;
  sample: number;
  cached: boolean;
  explainedVariance: [number, number] | null;
  points: ProjectionPoint[];
}

interface Neighbor {
  rank: number;
  id: string;
  label: string | null;
  score: number;
}

interface MetricValue {
  metric: string;
  value: number;
}

interface Comparison {
  a: ModelSummary;
  b: ModelSummary;
  k: number;
  sharedUsers: number;
  sharedItems: number;
  meanUserCosine: number | null;
  neighborOverlap: { users: number | null; items: number | null };
  layers: Array<{ name: string; kind: string; relativeChange: number | null; comparable: boolean; sharedRows: number | null }>;
  transferReport: {
    modelId: string;
    strategy: string | null;
    negativeTransfer: boolean;
    gains: Array<{ metric: string; value: number; ciLow: number; ciHigh: number; relative: number | null }>;
    overlap: Array<{ name: string; count: number }>;
    strata: Array<{ label: string; users: number; transferred: MetricValue[]; baseline: MetricValue[]; popularity: MetricValue[] }>;
    search: {
      budget: string;
      metric: string;
      validationUsers: number;
      chosenTransfer: string;
      chosenBaseline: string | null;
      decision: string | null;
      trials: Array<{ search: string; config: number; label: string; rung: number; epochs: number; validation: number; seconds: number }>;
    } | null;
  } | null;
}

interface TrainingCurve {
  modelId: string;
  jobId: string | null;
  source: string;
  bestEpoch: number | null;
  refinedEpochs: number | null;
  validationMetric: string | null;
  series: Array<{ phase: string; points: Array<{ epoch: number; loss: number; validation: number | null }> }>;
}

class ApiError extends Error {}

/** What the item-row refinement (softmax) did after the kept epoch, for the training view. */
function refinement(curve: TrainingCurve): string {
  if (curve.refinedEpochs === null) return '';
  return curve.refinedEpochs > 0 ? `, then ${curve.refinedEpochs} epoch${curve.refinedEpochs === 1 ? '' : 's'} of item rows refined (the later epochs: item rows alone)` : '; the later epochs refined the item rows and were put back (no better on the carve)';
}

async function graphql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (!key) throw new ApiError('enter an ANALYST key first (graft keys create --role ANALYST --name me)');
  const response = await fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  let body: { data?: T; errors?: Array<{ message: string }> };
  try {
    body = (await response.json()) as typeof body;
  } catch {
    throw new ApiError(`the server answered HTTP ${response.status} without JSON`);
  }
  if (response.status === 401) throw new ApiError(`the key was rejected: ${body.errors?.[0]?.message ?? 'unknown or revoked key'}`);
  if (body.errors?.length) throw new ApiError(body.errors.map((e) => e.message).join('; '));
  if (!body.data) throw new ApiError(`the server answered HTTP ${response.status} without data`);
  return body.data;
}

const MODEL_FIELDS = 'id domain version kind strategy status parent { id }';
const Q_VIEWER = '{ viewer { name role } }';
const Q_MODELS = `{ models(first: 100) { ${MODEL_FIELDS} } }`;
const Q_PROJECTION = `query($modelId: ID!, $kind: EntityKind!, $method: ProjectionMethod!, $sample: Int!, $seed: Int!, $colorBy: ColorBy!) {
  embeddingProjection(modelId: $modelId, kind: $kind, method: $method, sample: $sample, seed: $seed, colorBy: $colorBy) {
    modelId kind method colorBy sample cached explainedVariance points { id x y label color }
  }
}`;
const Q_NEIGHBORS = `query($modelId: ID!, $kind: EntityKind!, $id: ID!, $first: Int!) {
  nearestNeighbors(modelId: $modelId, kind: $kind, id: $id, first: $first) { rank id label score }
}`;
const Q_COMPARISON = `query($a: ID!, $b: ID!, $k: Int!) {
  modelComparison(a: $a, b: $b, k: $k) {
    a { ${MODEL_FIELDS} } b { ${MODEL_FIELDS} } k sharedUsers sharedItems meanUserCosine
    neighborOverlap { users items }
    layers { name kind relativeChange comparable sharedRows }
    transferReport {
      modelId strategy negativeTransfer
      gains { metric value ciLow ciHigh relative }
      overlap { name count }
      strata { label users transferred { metric value } baseline { metric value } popularity { metric value } }
      search { budget metric validationUsers chosenTransfer chosenBaseline decision trials { search config label rung epochs validation seconds } }
    }
  }
}`;
const Q_CURVE = `query($modelId: ID!) {
  trainingCurve(modelId: $modelId) { modelId jobId source bestEpoch refinedEpochs validationMetric series { phase points { epoch loss validation } } }
}`;

// ---- DOM helpers -------------------------------------------------------------------------

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

function setStatus(message: string, kind: 'info' | 'error' = 'info'): void {
  const status = $('status');
  status.textContent = message;
  status.className = kind;
}

function fmt(x: number | null | undefined, digits = 3): string {
  return x === null || x === undefined ? 'n/a' : x.toFixed(digits);
}

function modelLabel(m: ModelSummary): string {
  return `${m.domain} v${m.version} · ${m.kind}${m.strategy ? ` ${m.strategy}` : ''} · ${m.status}`;
}

/** Runs `task`, reporting failures in the status line instead of losing them in the console. */
async function guarded(what: string, task: () => Promise<void>): Promise<void> {
  try {
    await task();
  } catch (error) {
    setStatus(`${what} failed: ${error instanceof Error ? error.message : String(error)}`, 'error');
    throw error;
  }
}

function quietly(promise: Promise<void>): void {
  promise.catch(() => {}); // already reported by guarded()
}

// ---- colours -----------------------------------------------------------------------------

/** Tableau 10 and two more: the server keeps at most 12 tag colours and calls the rest 'other'. */
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#17becf', '#1f77b4', '#8c564b'];
const FIXED_COLOURS: Record<string, string> = {
  other: '#c7c7c7',
  untagged: '#dddddd',
  none: '#dddddd',
  'top 1%': '#d62728',
  'top 10%': '#ff9f40',
  rest: '#9ecae1',
};

function colourFor(label: string, index: number): string {
  return FIXED_COLOURS[label] ?? PALETTE[index % PALETTE.length]!;
}

// ---- state -------------------------------------------------------------------------------

const state = {
  models: [] as ModelSummary[],
  projection: null as Projection | null,
  selected: null as string | null,
  charts: new Map<string, ChartInstance>(),
};

function dropChart(canvasId: string): void {
  state.charts.get(canvasId)?.destroy();
  state.charts.delete(canvasId);
}

function replaceChart(canvasId: string, config: ChartConfiguration): ChartInstance {
  dropChart(canvasId);
  const chart = new Chart($<HTMLCanvasElement>(canvasId), config);
  state.charts.set(canvasId, chart);
  return chart;
}

// ---- key ---------------------------------------------------------------------------------

async function useKey(key: string): Promise<void> {
  sessionStorage.setItem(KEY_STORAGE, key);
  const { viewer } = await graphql<{ viewer: { name: string; role: string } }>(Q_VIEWER).catch((error: unknown) => {
    sessionStorage.removeItem(KEY_STORAGE);
    throw error;
  });
  if (viewer.role === 'APP') {
    sessionStorage.removeItem(KEY_STORAGE);
    throw new ApiError(`key "${viewer.name}" has role APP; the explorer needs an ANALYST or ADMIN key (graft keys create --role ANALYST --name me)`);
  }
  $('viewer').textContent = `${viewer.name} (${viewer.role})`;
  $('forget-key').hidden = false;
  $('key-form').hidden = true;
  const { models } = await graphql<{ models: ModelSummary[] }>(Q_MODELS);
  state.models = models.filter((m) => m.status !== 'TRAINING' && m.status !== 'FAILED');
  fillModelSelects();
  document.body.dataset.ready = 'true';
  setStatus(state.models.length ? `${state.models.length} models. Pick one and draw its map.` : 'No trained models yet: train one (graft pretrain) and reload.');
}

function forgetKey(): void {
  sessionStorage.removeItem(KEY_STORAGE);
  location.reload();
}

function fillModelSelects(): void {
  const transferred = state.models.find((m) => m.kind === 'TRANSFER' && m.parent && state.models.some((p) => p.id === m.parent!.id));
  const active = state.models.find((m) => m.status === 'ACTIVE');
  const fallback = transferred ?? active ?? state.models[0];
  const defaults: Record<string, string | undefined> = {
    'map-model': fallback?.id,
    'training-model': fallback?.id,
    'compare-a': transferred?.parent?.id ?? state.models[1]?.id ?? fallback?.id,
    'compare-b': fallback?.id,
  };
  for (const [id, selected] of Object.entries(defaults)) {
    const select = $<HTMLSelectElement>(id);
    select.replaceChildren(...state.models.map((m) => el('option', { value: m.id }, modelLabel(m))));
    if (selected) select.value = selected;
  }
}

// ---- the map -----------------------------------------------------------------------------

type MapPoint = ProjectionPoint & { x: number; y: number };

async function drawMap(): Promise<void> {
  const modelId = $<HTMLSelectElement>('map-model').value;
  const kind = $<HTMLSelectElement>('map-kind').value as EntityKind;
  const method = $<HTMLSelectElement>('map-method').value;
  const colorBy = $<HTMLSelectElement>('map-color').value;
  const sample = Number($<HTMLInputElement>('map-sample').value);
  const seed = Number($<HTMLInputElement>('map-seed').value);
  const box = $('map-box');
  box.dataset.state = 'loading';
  setStatus(`Projecting ${kind === 'ITEM' ? 'item' : 'user'} embeddings (${method}, ${sample} points)…`);
  const { embeddingProjection: p } = await graphql<{ embeddingProjection: Projection }>(Q_PROJECTION, { modelId, kind, method, sample, seed, colorBy });
  state.projection = p;
  state.selected = null;
  $('neighbor-list').replaceChildren();
  $('neighbor-title').textContent = 'Nearest neighbours';
  $('neighbor-hint').hidden = false;

  const groups = new Map<string, MapPoint[]>();
  for (const point of p.points) {
    let group = groups.get(point.color);
    if (!group) groups.set(point.color, (group = []));
    group.push(point);
  }
  // Largest groups first so the legend reads like a histogram; 'other' last.
  const ordered = [...groups.entries()].sort((a, b) => Number(a[0] === 'other') - Number(b[0] === 'other') || b[1].length - a[1].length);
  const radius = p.points.length > 5000 ? 1.5 : p.points.length > 1000 ? 2.5 : 3.5;
  const datasets = ordered.map(([label, points], i) => ({
    label: `${label} (${points.length})`,
    data: points,
    backgroundColor: colourFor(label, i),
    borderColor: colourFor(label, i),
    pointRadius: radius,
    pointHoverRadius: radius + 3,
  }));
  datasets.push({ label: 'selected + neighbours', data: [], backgroundColor: 'rgba(0,0,0,0)', borderColor: '#111', pointRadius: 7, pointHoverRadius: 8 } as never);
  const selectedIndex = datasets.length - 1;
  replaceChart('map-chart', {
    type: 'scatter',
    data: { datasets },
    options: {
      animation: false,
      maintainAspectRatio: false,
      parsing: false,
      normalized: true,
      scales: { x: { title: { display: true, text: axisTitle(p, 0) } }, y: { title: { display: true, text: axisTitle(p, 1) } } },
      plugins: {
        legend: {
          position: 'right',
          labels: { filter: (item) => item.datasetIndex !== selectedIndex || state.selected !== null },
        },
        tooltip: {
          callbacks: {
            label: (item: TooltipItem<'scatter'>) => {
              const point = item.raw as MapPoint;
              return point.label === point.id ? point.id : `${point.label} (${point.id})`;
            },
          },
        },
      },
      onClick: (_event: ChartEvent, elements: ActiveElement[]) => {
        const hit = elements.find((e) => e.datasetIndex !== selectedIndex) ?? elements[0];
        if (!hit) return;
        const point = state.charts.get('map-chart')!.data.datasets[hit.datasetIndex]!.data[hit.index] as unknown as MapPoint;
        quietly(guarded('Neighbour search', () => showNeighbours(point.id)));
      },
    },
  } as ChartConfiguration);
  box.dataset.points = String(p.points.length);
  box.dataset.state = 'ready';
  const variance = p.explainedVariance ? ` The axes hold ${(100 * p.explainedVariance[0]).toFixed(1)}% and ${(100 * p.explainedVariance[1]).toFixed(1)}% of the variance.` : '';
  $('map-info').textContent = `${p.points.length} ${kind === 'ITEM' ? 'items' : 'users'} of ${modelLabelById(modelId)}, ${p.method}, coloured by ${p.colorBy.toLowerCase()}${p.cached ? ' (layout from cache)' : ''}.${variance}`;
  setStatus(`Drew ${p.points.length} points. Hover for titles; click a point for its nearest neighbours.`);
}

function axisTitle(p: Projection, axis: 0 | 1): string {
  if (p.method === 'PCA') return `PC${axis + 1}${p.explainedVariance ? ` (${(100 * p.explainedVariance[axis]).toFixed(1)}% of variance)` : ''}`;
  return `UMAP ${axis + 1}`;
}

function modelLabelById(id: string): string {
  const m = state.models.find((x) => x.id === id);
  return m ? `${m.domain} v${m.version}` : id;
}

async function showNeighbours(id: string): Promise<void> {
  const p = state.projection;
  if (!p) return;
  const first = Number($<HTMLInputElement>('neighbor-count').value) || 10;
  setStatus(`Searching the neighbours of ${id}…`);
  const { nearestNeighbors } = await graphql<{ nearestNeighbors: Neighbor[] }>(Q_NEIGHBORS, { modelId: p.modelId, kind: p.kind, id, first });
  state.selected = id;
  const byId = new Map(p.points.map((q) => [q.id, q]));
  const self = byId.get(id);
  $('neighbor-title').textContent = `Nearest neighbours of ${self && self.label !== id ? `${self.label} (${id})` : id}`;
  $('neighbor-hint').hidden = true;
  $('neighbor-list').dataset.of = id;
  $('neighbor-list').replaceChildren(
    ...nearestNeighbors.map((n) => {
      const item = el('li', { 'data-id': n.id }, el('span', { class: 'name' }, n.label ?? n.id), ' ', el('span', { class: 'muted' }, n.label ? n.id : ''), el('span', { class: 'score' }, n.score.toFixed(3)));
      item.title = byId.has(n.id) ? 'on the map (circled)' : 'not in this sample';
      if (!byId.has(n.id)) item.classList.add('off-map');
      item.addEventListener('click', () => quietly(guarded('Neighbour search', () => showNeighbours(n.id))));
      return item;
    }),
  );
  // Circle the selected point and its neighbours that are in the sample.
  const chart = state.charts.get('map-chart');
  if (chart) {
    const overlay = chart.data.datasets[chart.data.datasets.length - 1]!;
    overlay.data = [id, ...nearestNeighbors.map((n) => n.id)].flatMap((x) => (byId.has(x) ? [byId.get(x)!] : [])) as never;
    chart.update();
  }
  const onMap = nearestNeighbors.filter((n) => byId.has(n.id)).length;
  setStatus(`${nearestNeighbors.length} nearest neighbours of ${id} (exact cosine search over the whole model; ${onMap} of them are in this sample, circled).`);
}

// ---- the comparison ----------------------------------------------------------------------

async function drawComparison(): Promise<void> {
  const a = $<HTMLSelectElement>('compare-a').value;
  const b = $<HTMLSelectElement>('compare-b').value;
  const k = Number($<HTMLInputElement>('compare-k').value) || 10;
  const method = $<HTMLSelectElement>('compare-method').value;
  const box = $('compare-box');
  box.dataset.state = 'loading';
  setStatus('Comparing the models…');
  const shared = { kind: 'USER', method, sample: 3000, seed: 1, colorBy: 'DOMAIN' };
  // A model without user embeddings still has a comparison: its map is left out with the reason.
  const mapProblems: string[] = [];
  const userMap = (modelId: string) =>
    graphql<{ embeddingProjection: Projection }>(Q_PROJECTION, { ...shared, modelId }).catch((error: unknown) => {
      mapProblems.push(error instanceof Error ? error.message : String(error));
      return null;
    });
  const [{ modelComparison: c }, left, right] = await Promise.all([graphql<{ modelComparison: Comparison }>(Q_COMPARISON, { a, b, k }), userMap(a), userMap(b)]);

  $('compare-summary').replaceChildren(
    card(`neighbour overlap@${c.k}, users`, fmt(c.neighborOverlap.users), 'overlap-users'),
    card(`neighbour overlap@${c.k}, items`, fmt(c.neighborOverlap.items), 'overlap-items'),
    card('mean cosine, same user', fmt(c.meanUserCosine), 'mean-cosine'),
    card('shared users', c.sharedUsers.toLocaleString('en-US'), 'shared-users'),
    card('shared items', c.sharedItems.toLocaleString('en-US'), 'shared-items'),
  );
  drawLayers(c);
  drawReport(c);
  drawSharedUsers(left?.embeddingProjection ?? null, right?.embeddingProjection ?? null, c, mapProblems);
  box.dataset.layers = String(c.layers.length);
  box.dataset.state = 'ready';
  setStatus(`Compared ${modelLabel(c.a)} with ${modelLabel(c.b)}.`);
}

function card(title: string, value: string, id: string): HTMLElement {
  return el('div', { class: 'card', id }, el('div', { class: 'value' }, value), el('div', { class: 'muted' }, title));
}

function drawLayers(c: Comparison): void {
  const layers = c.layers;
  replaceChart('layers-chart', {
    type: 'bar',
    data: {
      labels: layers.map((l) => l.name),
      datasets: [
        {
          label: '‖W_b − W_a‖ / ‖W_a‖',
          data: layers.map((l) => l.relativeChange ?? 0),
          backgroundColor: layers.map((l) => (!l.comparable ? '#dddddd' : l.relativeChange === 0 ? '#59a14f' : '#4e79a7')),
        },
      ],
    },
    options: {
      indexAxis: 'y',
      animation: false,
      maintainAspectRatio: false,
      plugins: {
        legend: { display: false },
        tooltip: { callbacks: { label: (item: TooltipItem<'bar'>) => layerNote(layers[item.dataIndex]!) } },
      },
      scales: { x: { beginAtZero: true, title: { display: true, text: 'relative change (0 = unchanged, e.g. frozen)' } } },
    },
  } as ChartConfiguration);
  $('layers-table').replaceChildren(
    el('thead', {}, el('tr', {}, el('th', {}, 'weight'), el('th', {}, 'kind'), el('th', {}, 'relative change'), el('th', {}, 'rows compared'))),
    el(
      'tbody',
      {},
      ...layers.map((l) =>
        el('tr', {}, el('td', {}, l.name), el('td', {}, l.kind), el('td', { class: 'num' }, layerNote(l)), el('td', { class: 'num' }, l.sharedRows === null ? '' : l.sharedRows.toLocaleString('en-US'))),
      ),
    ),
  );
}

function layerNote(l: Comparison['layers'][number]): string {
  if (!l.comparable) return 'not comparable';
  return l.relativeChange === 0 ? '0 (unchanged)' : fmt(l.relativeChange, 4);
}

function drawReport(c: Comparison): void {
  const report = c.transferReport;
  $('report-none').hidden = report !== null;
  $('report-body').hidden = report === null;
  if (!report) {
    dropChart('gain-chart');
    dropChart('strata-chart');
    return;
  }
  $('report-flag').textContent = report.negativeTransfer
    ? 'Negative transfer: the guard metric\'s gain interval over the baseline or over popularity is not above 0 (not activated automatically).'
    : 'Positive transfer: the guard metric\'s gain interval lies above 0 over the baseline and over popularity.';
  $('report-flag').className = report.negativeTransfer ? 'error' : 'ok';
  // Quality gains (HR, NDCG, recall, MRR: shares of users, about ±0.1) get the chart; popularity@K
  // (event counts) and coverage@K describe what is recommended, on scales of their own: a table.
  const gains = report.gains.filter((g) => isQualityMetric(g.metric));
  $('report-other').replaceChildren(
    el('tr', {}, el('th', {}, 'what is recommended'), el('th', {}, 'gain'), el('th', {}, '95% interval')),
    ...report.gains
      .filter((g) => !isQualityMetric(g.metric))
      .map((g) => el('tr', {}, el('td', {}, describeMetric(g.metric)), el('td', {}, fmt(g.value, g.metric.startsWith('popularity@') ? 1 : 4)), el('td', {}, `[${fmt(g.ciLow, 4)}, ${fmt(g.ciHigh, 4)}]`))),
  );
  replaceChart('gain-chart', {
    type: 'bar',
    data: {
      labels: gains.map((g) => g.metric),
      datasets: [
        { type: 'bar', label: '95% interval', data: gains.map((g) => [g.ciLow, g.ciHigh]), backgroundColor: gains.map((g) => (g.ciLow > 0 ? 'rgba(89,161,79,0.45)' : 'rgba(225,87,89,0.35)')), barPercentage: 0.5 },
        { type: 'line', label: 'gain (transferred − baseline)', data: gains.map((g) => g.value), showLine: false, pointStyle: 'rectRot', pointRadius: 7, backgroundColor: '#111', borderColor: '#111' },
      ],
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: { y: { title: { display: true, text: 'quality gain over the same-budget baseline' }, grid: { color: (ctx: { tick?: { value: number } }) => (ctx.tick?.value === 0 ? '#333' : 'rgba(0,0,0,0.08)') } } },
    },
  } as ChartConfiguration);
  const metric = gains.find((g) => g.metric.startsWith('hr@'))?.metric ?? gains[0]?.metric ?? 'hr@10';
  const value = (values: MetricValue[]) => values.find((v) => v.metric === metric)?.value ?? null;
  replaceChart('strata-chart', {
    type: 'bar',
    data: {
      labels: report.strata.map((s) => `${s.label} (${s.users} users)`),
      datasets: [
        { label: 'transferred', data: report.strata.map((s) => value(s.transferred)), backgroundColor: '#4e79a7' },
        { label: 'baseline', data: report.strata.map((s) => value(s.baseline)), backgroundColor: '#f28e2b' },
        { label: 'popularity', data: report.strata.map((s) => value(s.popularity)), backgroundColor: '#bab0ac' },
      ],
    },
    options: { animation: false, maintainAspectRatio: false, scales: { y: { beginAtZero: true, title: { display: true, text: `${metric} by training interactions` } } } },
  } as ChartConfiguration);
  $('report-overlap').replaceChildren(...report.overlap.map((o) => el('li', {}, `${o.name}: `, el('b', {}, o.count.toLocaleString('en-US')))));
  drawTrials(report.search);
}

/** AUTO's trial table: every configuration at every rung, best validation first within a search. */
function drawTrials(search: NonNullable<Comparison['transferReport']>['search']): void {
  $('report-trials-box').hidden = search === null;
  if (!search) return;
  $('report-trials-info').textContent = `AUTO, budget ${search.budget} per search; validation ${search.metric} on ${search.validationUsers.toLocaleString('en-US')} users. ${search.decision === 'target-only' ? `Chosen: no transfer, the target-only ${search.chosenBaseline} won on validation (best transfer: ${search.chosenTransfer}).` : `Chosen: transfer ${search.chosenTransfer}${search.chosenBaseline ? `; baseline ${search.chosenBaseline}` : ''}.`}`;
  const rows = [...search.trials].sort((a, b) => a.search.localeCompare(b.search) || b.rung - a.rung || b.validation - a.validation);
  $('report-trials').replaceChildren(
    el('tr', {}, ...['search', '#', 'rung', 'epochs', 'validation', 's', 'settings'].map((h) => el('th', {}, h))),
    ...rows.map((t) => el('tr', {}, el('td', {}, t.search), el('td', {}, String(t.config)), el('td', {}, String(t.rung)), el('td', {}, String(t.epochs)), el('td', {}, fmt(t.validation, 4)), el('td', {}, fmt(t.seconds, 1)), el('td', {}, t.label))),
  );
}

/** HR, NDCG, recall and MRR: how often and how high the held-out item ranks. */
function isQualityMetric(metric: string): boolean {
  return /^(hr|ndcg|recall)@\d+$/.test(metric) || metric === 'mrr';
}

function describeMetric(metric: string): string {
  const k = metric.split('@')[1];
  if (metric.startsWith('popularity@')) return `${metric}: mean training events of the top ${k} items`;
  if (metric.startsWith('coverage@')) return `${metric}: share of items in some top ${k}`;
  return metric;
}

/**
 * The users both models embed, drawn on each model's own map. Each user keeps the colour of
 * its place in model a's map (its angle around the centre), so neighbourhoods that survive
 * the transfer show up as the same colours staying together in model b's map.
 */
function drawSharedUsers(left: Projection | null, right: Projection | null, c: Comparison, problems: string[]): void {
  const box = $('shared-box');
  if (!left || !right) {
    box.dataset.shared = '0';
    dropChart('shared-a');
    dropChart('shared-b');
    $('shared-info').textContent = `No user maps: ${problems.join('; ')}`;
    return;
  }
  const inRight = new Map(right.points.map((p) => [p.id, p]));
  const both = left.points.filter((p) => inRight.has(p.id));
  const cx = both.reduce((s, p) => s + p.x, 0) / Math.max(1, both.length);
  const cy = both.reduce((s, p) => s + p.y, 0) / Math.max(1, both.length);
  const hue = new Map(both.map((p) => [p.id, Math.round(((Math.atan2(p.y - cy, p.x - cx) / Math.PI + 1) * 180) % 360)]));
  const draw = (canvasId: string, points: ProjectionPoint[], title: string) =>
    replaceChart(canvasId, {
      type: 'scatter',
      data: {
        datasets: [
          {
            label: title,
            data: points,
            pointRadius: 2.5,
            backgroundColor: points.map((p) => `hsl(${hue.get(p.id)}, 70%, 50%)`),
          },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        parsing: false,
        plugins: { legend: { display: false }, title: { display: true, text: title }, tooltip: { callbacks: { label: (item: TooltipItem<'scatter'>) => (item.raw as ProjectionPoint).id } } },
      },
    } as ChartConfiguration);
  draw('shared-a', both, `${modelLabel(c.a)}: ${both.length} shared users`);
  draw('shared-b', both.map((p) => inRight.get(p.id)!), `${modelLabel(c.b)}: the same users`);
  box.dataset.shared = String(both.length);
  $('shared-info').textContent = `${both.length} users drawn in both maps (${left.method}); a user keeps the colour of its place in the first map.`;
}

// ---- training curves ---------------------------------------------------------------------

const PHASE_COLOURS: Record<string, string> = { training: '#4e79a7', transfer: '#59a14f', baseline: '#f28e2b' };

async function drawTraining(): Promise<void> {
  const modelId = $<HTMLSelectElement>('training-model').value;
  const box = $('training-box');
  box.dataset.state = 'loading';
  const { trainingCurve: curve } = await graphql<{ trainingCurve: TrainingCurve }>(Q_CURVE, { modelId });
  const epochs = Math.max(0, ...curve.series.flatMap((s) => s.points.map((p) => p.epoch)));
  const labels = Array.from({ length: epochs }, (_, i) => String(i + 1));
  const lines = (pick: (p: TrainingCurve['series'][number]['points'][number]) => number | null) =>
    curve.series.map((s) => {
      const byEpoch = new Map(s.points.map((p) => [p.epoch, pick(p)]));
      const colour = PHASE_COLOURS[s.phase] ?? '#76b7b2';
      return { label: s.phase, data: labels.map((_, i) => byEpoch.get(i + 1) ?? null), borderColor: colour, backgroundColor: colour, spanGaps: true, tension: 0.2 };
    });
  const options = (y: string) => ({ animation: false, maintainAspectRatio: false, scales: { x: { title: { display: true, text: 'epoch' } }, y: { title: { display: true, text: y } } } });
  replaceChart('loss-chart', { type: 'line', data: { labels, datasets: lines((p) => p.loss) }, options: options('training loss') } as ChartConfiguration);
  replaceChart('validation-chart', { type: 'line', data: { labels, datasets: lines((p) => p.validation) }, options: options(`validation ${curve.validationMetric ?? 'hr@10 (99 negatives)'}`) } as ChartConfiguration);
  const source = curve.source === 'JOB_EVENTS' ? `the epoch events of job ${curve.jobId}` : curve.source === 'MODEL_METRICS' ? 'the history stored with the model' : 'nothing: the model has no recorded epochs';
  $('training-info').textContent = `${modelLabelById(modelId)}: ${epochs} epochs, from ${source}${curve.bestEpoch ? `; the weights of epoch ${curve.bestEpoch} were kept` : ''}${refinement(curve)}.`;
  box.dataset.series = String(curve.series.length);
  box.dataset.state = 'ready';
  setStatus(`Training curves of ${modelLabelById(modelId)}.`);
}

// ---- wiring ------------------------------------------------------------------------------

function showView(view: string): void {
  for (const button of document.querySelectorAll<HTMLButtonElement>('nav button')) button.classList.toggle('active', button.dataset.view === view);
  for (const section of document.querySelectorAll<HTMLElement>('main > section')) section.hidden = section.id !== `view-${view}`;
}

function onSubmit(formId: string, what: string, action: () => Promise<void>): void {
  $(formId).addEventListener('submit', (event) => {
    event.preventDefault();
    quietly(guarded(what, action));
  });
}

function start(): void {
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  for (const button of document.querySelectorAll<HTMLButtonElement>('nav button')) {
    button.addEventListener('click', () => showView(button.dataset.view!));
  }
  onSubmit('key-form', 'Signing in', async () => {
    const input = $<HTMLInputElement>('key');
    const key = input.value.trim();
    input.value = '';
    await useKey(key);
  });
  $('forget-key').addEventListener('click', forgetKey);
  onSubmit('map-form', 'The projection', drawMap);
  onSubmit('compare-form', 'The comparison', drawComparison);
  onSubmit('training-form', 'The training curves', drawTraining);
  const saved = sessionStorage.getItem(KEY_STORAGE);
  if (saved) quietly(guarded('Signing in', () => useKey(saved)));
  else setStatus('Enter an ANALYST key to start. It stays in this tab only (sessionStorage).');
}

start();
