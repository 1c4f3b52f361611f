import { GraftError } from '../../errors.js';

/** Who may read /metrics: anyone, callers with an ANALYST or ADMIN key, or nobody. */
export type MetricsAccess = 'open' | 'key' | 'off';

/**
 * What the server shows beyond the API itself. Production defaults: no introspection, no
 * GraphiQL, /metrics only with an ANALYST or ADMIN key (`Authorization: Bearer KEY`, e.g. a
 * key made for Prometheus). `graft start` (the demo) turns introspection and GraphiQL on.
 */
export interface ExposureSettings {
  /** Schema introspection (`__schema`, `__type`) for every caller. GraphiQL needs it. */
  introspection: boolean;
  /** GraphiQL at GET /graphql in a browser (turns introspection on). */
  graphiql: boolean;
  metrics: MetricsAccess;
}

interface Descriptor<K extends keyof ExposureSettings> {
  env: string;
  default: ExposureSettings[K];
  parse(raw: string): ExposureSettings[K] | undefined;
  accepted: string;
}

const onOff = (raw: string): boolean | undefined => (/^(1|on|true|yes)$/i.test(raw) ? true : /^(0|off|false|no)$/i.test(raw) ? false : undefined);

/** Each setting once: its environment variable, default and accepted values (the CLI and README follow these). */
export const EXPOSURE_SETTINGS: { [K in keyof ExposureSettings]: Descriptor<K> } = {
  introspection: { env: 'GRAFT_INTROSPECTION', default: false, parse: onOff, accepted: 'on or off' },
  graphiql: { env: 'GRAFT_GRAPHIQL', default: false, parse: onOff, accepted: 'on or off' },
  metrics: {
    env: 'GRAFT_METRICS',
    default: 'key',
    parse: (raw) => (['open', 'key', 'off'].includes(raw.toLowerCase()) ? (raw.toLowerCase() as MetricsAccess) : undefined),
    accepted: 'open, key or off',
  },
};

/** Options first, then the environment, then the production defaults; a bad environment value is an error naming it. */
export function resolveExposure(options: Partial<ExposureSettings> = {}, env: NodeJS.ProcessEnv = process.env): ExposureSettings {
  const pick = <K extends keyof ExposureSettings>(key: K): ExposureSettings[K] => {
    if (options[key] !== undefined) return options[key] as ExposureSettings[K];
    const d = EXPOSURE_SETTINGS[key];
    const raw = env[d.env];
    if (raw === undefined || raw === '') return d.default;
    const value = d.parse(raw);
    if (value === undefined) throw new GraftError('BAD_INPUT', `${d.env}=${raw} is not valid; set ${d.accepted}, or unset it for ${String(d.default)}`);
    return value;
  };
  const graphiql = pick('graphiql');
  return { graphiql, introspection: graphiql || pick('introspection'), metrics: pick('metrics') };
}
