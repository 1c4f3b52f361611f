import { GraftError } from '../../errors.js';
import { DEFAULT_CACHE_TTL_MS } from '../../serving/index.js';

/** Users precomputed per domain by `graft serve` unless told otherwise. */
export const DEFAULT_PRECOMPUTE_USERS = 50_000;

/**
 * What the server reads from the environment when its options leave a setting out, each
 * checked once at start (a bad value stops the server with the variable named):
 * PORT, HOST, NODE_ENV, LOG_LEVEL, GRAFT_CACHE_TTL_MS, GRAFT_PRECOMPUTE_USERS.
 * (GRAFT_INTROSPECTION, GRAFT_GRAPHIQL and GRAFT_METRICS: see exposure-settings.ts.)
 */
export interface ServerEnvironment {
  port: number;
  host: string;
  development: boolean;
  logLevel: string;
  cacheTtlMs: number;
  precomputeUsers: number;
}

export function readServerEnvironment(env: NodeJS.ProcessEnv = process.env): ServerEnvironment {
  return {
    port: envInteger(env, 'PORT', 4000, 0, 65_535, 'a TCP port from 0 (any free port) to 65535'),
    host: env.HOST || '0.0.0.0',
    development: env.NODE_ENV === 'development',
    logLevel: env.LOG_LEVEL || 'info',
    cacheTtlMs: envNumber(env, 'GRAFT_CACHE_TTL_MS', DEFAULT_CACHE_TTL_MS, 'milliseconds >= 0 (0 turns the serving cache off)'),
    precomputeUsers: envInteger(env, 'GRAFT_PRECOMPUTE_USERS', DEFAULT_PRECOMPUTE_USERS, 0, Number.MAX_SAFE_INTEGER, 'an integer >= 0 (0 turns precomputation off)'),
  };
}

function envNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, what: string): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new GraftError('BAD_INPUT', `${name}=${raw} is not valid; set ${what}, or unset it for ${fallback}`);
  return value;
}

function envInteger(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number, what: string): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new GraftError('BAD_INPUT', `${name}=${raw} is not valid; set ${what}, or unset it for ${fallback}`);
  return value;
}
