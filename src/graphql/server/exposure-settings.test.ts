import { describe, expect, it } from 'vitest';
import { resolveExposure } from './exposure-settings.js';

describe('resolveExposure', () => {
  it('defaults to what a production server should show: no introspection, no GraphiQL, /metrics with a key', () => {
    expect(resolveExposure({}, {})).toEqual({ introspection: false, graphiql: false, metrics: 'key' });
  });

  it('reads the environment, lets options win, and GraphiQL brings introspection', () => {
    expect(resolveExposure({}, { GRAFT_GRAPHIQL: 'on', GRAFT_METRICS: 'open' })).toEqual({ introspection: true, graphiql: true, metrics: 'open' });
    expect(resolveExposure({ metrics: 'off' }, { GRAFT_METRICS: 'open', GRAFT_INTROSPECTION: '1' })).toEqual({ introspection: true, graphiql: false, metrics: 'off' });
  });

  it('refuses a value it does not know, naming the variable and what it takes', () => {
    expect(() => resolveExposure({}, { GRAFT_METRICS: 'public' })).toThrow(/GRAFT_METRICS=public is not valid; set open, key or off/);
    expect(() => resolveExposure({}, { GRAFT_GRAPHIQL: 'maybe' })).toThrow(/GRAFT_GRAPHIQL=maybe is not valid; set on or off/);
  });
});
