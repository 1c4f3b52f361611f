import 'reflect-metadata';
import { ArrayMaxSize, IsIn, IsOptional, Length, Max, Min, validate, ValidateNested, ValidateIf } from 'class-validator';
import { ArgumentValidationError, getMetadataStorage as typeGraphqlMetadata } from 'type-graphql';
import { describe, expect, it } from 'vitest';
import { RESOLVERS } from './schema.js';
import { hasFastPath, validateArgs } from './validate-args.js';

class Filter {
  @IsOptional()
  @ArrayMaxSize(2)
  tags?: string[] | null;
}

class Args {
  @Length(1, 5)
  id!: string;

  @Min(1)
  @Max(10)
  first!: number;

  @IsOptional()
  @IsIn(['a', 'b'])
  kind?: string | null;

  @IsOptional()
  @ValidateNested()
  filter?: Filter | null;
}

class Each {
  @Min(1, { each: true })
  @ArrayMaxSize(3)
  widths!: number[];
}

class Conditional {
  @ValidateIf((o: Conditional) => o.checked === true)
  @Min(5)
  n!: number;

  checked!: boolean;
}

class Grouped {
  @Min(5, { groups: ['strict'] })
  n!: number;
}

const make = <T extends object>(cls: new () => T, values: Partial<T>): T => Object.assign(new cls(), values);
const filter = (tags: string[] | null) => make(Filter, { tags });

/** What validateArgs says: 'ok', or the constraints class-validator reported, flattened. */
async function verdict(value: object | object[]): Promise<string> {
  try {
    await validateArgs(value);
    return 'ok';
  } catch (error) {
    expect(error).toBeInstanceOf(ArgumentValidationError);
    return flatten((error as ArgumentValidationError).extensions.validationErrors as never);
  }
}

/** class-validator's own answer, as type-graphql would have asked it. */
async function reference(value: object): Promise<string> {
  const errors = await validate(value, { forbidUnknownValues: false, skipMissingProperties: true });
  return errors.length === 0 ? 'ok' : flatten(errors as never);
}

function flatten(errors: Array<{ property: string; constraints?: Record<string, string>; children?: unknown[] }>): string {
  return errors
    .flatMap((e) => [...Object.values(e.constraints ?? {}).map((m) => `${e.property}: ${m}`), flatten((e.children ?? []) as never)])
    .filter(Boolean)
    .join('; ');
}

describe('validateArgs', () => {
  const cases: Array<[string, object]> = [
    ['valid', make(Args, { id: 'u1', first: 3 })],
    ['valid with every optional', make(Args, { id: 'u1', first: 10, kind: 'b', filter: filter(['x', 'y']) })],
    ['null optionals', make(Args, { id: 'u1', first: 1, kind: null, filter: null })],
    ['too long', make(Args, { id: 'abcdef', first: 3 })],
    ['empty', make(Args, { id: '', first: 3 })],
    ['below min', make(Args, { id: 'u1', first: 0 })],
    ['above max', make(Args, { id: 'u1', first: 11 })],
    ['not in set', make(Args, { id: 'u1', first: 3, kind: 'c' })],
    ['nested too many', make(Args, { id: 'u1', first: 3, filter: filter(['x', 'y', 'z']) })],
    ['two errors', make(Args, { id: '', first: 99 })],
    ['each, valid', make(Each, { widths: [1, 2] })],
    ['each, one element failing', make(Each, { widths: [1, 0] })],
    ['each, too many and failing', make(Each, { widths: [0, 1, 2, 3] })],
    ['condition off', make(Conditional, { n: 1, checked: false })],
    ['condition on, failing', make(Conditional, { n: 1, checked: true })],
    ['condition on, passing', make(Conditional, { n: 6, checked: true })],
    ['groups (slow path)', make(Grouped, { n: 1 })],
  ];

  it.each(cases)('%s: accepts or rejects exactly as class-validator does, with its messages', async (_, value) => {
    expect(await verdict(value)).toBe(await reference(value));
  });

  it('validates each object of a list argument', async () => {
    expect(await verdict([make(Args, { id: 'u1', first: 3 }), make(Args, { id: 'u2', first: 4 })])).toBe('ok');
    expect(await verdict([make(Args, { id: 'u1', first: 3 }), make(Args, { id: 'u2', first: 40 })])).toMatch(/first: first must not be greater than 10/);
  });

  it('lets scalars and null through (type-graphql validates objects only)', async () => {
    await expect(validateArgs('x')).resolves.toBeUndefined();
    await expect(validateArgs(null)).resolves.toBeUndefined();
  });

  it('takes the fast path for every args and input class of the API', () => {
    void RESOLVERS; // the resolvers' modules declare the classes
    const meta = typeGraphqlMetadata();
    const classes = [...meta.argumentTypes, ...meta.inputTypes].map((t) => t.target);
    expect(classes.length).toBeGreaterThan(10);
    expect(classes.filter((c) => !hasFastPath(c)).map((c) => c.name)).toEqual([]);
    expect(hasFastPath(Grouped)).toBe(false);
  });
});
