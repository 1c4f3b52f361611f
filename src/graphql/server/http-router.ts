import type { IncomingMessage, ServerResponse } from 'node:http';
import { GraphQLError } from 'graphql';
import type { Registry } from 'prom-client';
import type { GraftDatabase } from '../../db/connect.js';
import type { Recommender } from '../../serving/index.js';
import type { Principal } from '../context.js';
import type { Authenticator } from './authenticator.js';
import type { ExposureSettings } from './exposure-settings.js';
import { checkHealth } from './health.js';
import { sendJson, sendText } from './http-response.js';
import { graphiqlPage, readAsset } from './static-assets.js';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void;

export interface RouterParts {
  gdb: GraftDatabase;
  recommender: Recommender;
  authenticator: Authenticator;
  exposure: ExposureSettings;
  /** POST / GET `/graphql` (Apollo). */
  graphql: RouteHandler;
  metrics: { registry: Registry; scrape: () => Promise<string> };
  /** Extra GET routes by path (the explorer page). */
  routes: Record<string, RouteHandler>;
}

/**
 * The server's routes: `/graphql` (GraphiQL for a browser when on, the API otherwise),
 * `/healthz`, `/metrics` (as exposure allows), `/` -> `/graphql`, the extra routes and the
 * static assets (GraphiQL's and the explorer's, from node_modules); 404 / 405 otherwise.
 */
export function createRouter(parts: RouterParts): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const { exposure } = parts;

  /** Why /metrics is refused to this caller (exposure.metrics), or undefined. */
  async function metricsRefusal(header: string | undefined): Promise<{ status: number; message: string } | undefined> {
    if (exposure.metrics === 'open') return undefined;
    if (exposure.metrics === 'off') return { status: 404, message: '/metrics is off on this server; turn it on with GRAFT_METRICS=key (an ANALYST or ADMIN key) or open' };
    let principal: Principal | null;
    try {
      principal = await parts.authenticator.fromHeader(header);
    } catch (error) {
      if (error instanceof GraphQLError) return { status: 401, message: error.message };
      throw error;
    }
    if (!principal) return { status: 401, message: '/metrics needs an ANALYST or ADMIN key: send `Authorization: Bearer KEY` (e.g. `graft keys create --role ANALYST --name prometheus`)' };
    if (principal.role === 'APP') return { status: 403, message: `/metrics needs role ANALYST or above; key "${principal.name}" has role APP` };
    return undefined;
  }

  return async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/graphql') {
      if (req.method === 'GET' && !url.searchParams.has('query') && (req.headers.accept ?? '').includes('text/html')) {
        if (!exposure.graphiql) {
          return sendText(res, 404, 'GraphiQL is off on this server; start it with `graft serve --graphiql` (or GRAFT_GRAPHIQL=on), or POST queries to /graphql\n', 'text/plain; charset=utf-8');
        }
        return sendText(res, 200, graphiqlPage(), 'text/html; charset=utf-8');
      }
      return parts.graphql(req, res, url);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: `${req.method} ${url.pathname} is not supported` });
    if (url.pathname === '/healthz') {
      const health = await checkHealth(parts.gdb, parts.recommender);
      return sendJson(res, health.status === 'ok' ? 200 : 503, health);
    }
    if (url.pathname === '/metrics') {
      const refusal = await metricsRefusal(req.headers.authorization);
      if (refusal) return sendJson(res, refusal.status, { error: refusal.message });
      return sendText(res, 200, await parts.metrics.scrape(), parts.metrics.registry.contentType);
    }
    if (url.pathname === '/') {
      res.writeHead(302, { location: '/graphql' }).end();
      return;
    }
    const handler = parts.routes[url.pathname];
    if (handler) return handler(req, res, url);
    const asset = await readAsset(url.pathname);
    if (asset) {
      res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'public, max-age=3600' }).end(asset.body);
      return;
    }
    sendJson(res, 404, { error: `nothing at ${url.pathname}; the API is at /graphql` });
  };
}
