import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildGraftSchema } from '../../src/graphql/schema.js';

describe('schema.graphql', () => {
  it('is what buildSchema emits today (run `npm run schema` after changing a type or resolver)', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'graft-schema-')), 'schema.graphql');
    await buildGraftSchema({ emitSchemaFile: out });
    const emitted = readFileSync(out, 'utf8');
    const committed = readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8');
    expect(committed).toBe(emitted);
  });
});
