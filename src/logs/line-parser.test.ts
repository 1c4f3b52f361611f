import { describe, expect, it } from 'vitest';
import { EventLineParser, formatFromPath, ItemLineParser, splitCsv } from './line-parser.js';

describe('splitCsv', () => {
  it('splits quoted and unquoted fields', () => {
    expect(splitCsv('a,b,,c')).toEqual(['a', 'b', '', 'c']);
    expect(splitCsv('u1,"Ball, size 5","say ""hi""",')).toEqual(['u1', 'Ball, size 5', 'say "hi"', '']);
    expect(splitCsv('"",x')).toEqual(['', 'x']);
  });
  it('reports an open quote as a continued record, and text after a closing quote as an error', () => {
    expect(splitCsv('u1,"multi')).toBeUndefined();
    expect(() => splitCsv('"a"b,c')).toThrow(/after its closing quote/);
  });
});

describe('EventLineParser', () => {
  it('takes columns from a header, with aliases, ignoring unknown ones', () => {
    const p = new EventLineParser({ file: 'f.csv', format: 'csv', syntheticTimeBase: 1000 });
    expect(p.parse('user_id,comment,product_id,rating', 1)).toBeUndefined();
    expect(p.parse('u1,nice,sku-1,4', 2)).toEqual({ user: 'u1', item: 'sku-1', weight: 4, time: new Date(1002), kind: 'view' });
  });
  it('says how to fix a header without a user column', () => {
    const p = new EventLineParser({ file: 'f.tsv', format: 'tsv', syntheticTimeBase: 0 });
    expect(() => p.parse('0\t23761\t1', 1)).toThrow(/^f\.tsv:1: header: no "user" column .*--no-header --columns/);
  });
  it('names the columns and a fix when a line has the wrong number of fields', () => {
    const p = new EventLineParser({ file: 'f.txt', format: 'tsv', header: false, syntheticTimeBase: 0 });
    expect(() => p.parse('0\t23761\t1', 4)).toThrow(
      'f.txt:4: 3 fields but the default columns expect 4 (user,item,weight,time); pass --columns naming each field in order (_ skips one), e.g. --columns user,item,weight',
    );
  });
  it('rejects unknown names in --columns, and --columns on jsonl', () => {
    expect(() => new EventLineParser({ file: 'f', format: 'tsv', columns: ['user', 'itm'], syntheticTimeBase: 0 })).toThrow(/column "itm" is unknown/);
    expect(() => new EventLineParser({ file: 'f', format: 'jsonl', columns: ['user'], syntheticTimeBase: 0 })).toThrow(/does not apply to jsonl/);
  });
});

describe('ItemLineParser and formats', () => {
  it('reads tags and features from text fields', () => {
    const p = new ItemLineParser({ file: 'i.tsv', format: 'tsv', header: false, columns: ['item', 'tags', 'features'] });
    expect(p.parse('ball\toutdoor|team\t{"price":3}', 1)).toEqual({ item: 'ball', tags: ['outdoor', 'team'], features: { price: 3 } });
  });
  it('tells the format from the extension', () => {
    expect(formatFromPath('a/train.txt')).toBe('tsv');
    expect(formatFromPath('x.CSV')).toBe('csv');
    expect(formatFromPath('x.jsonl')).toBe('jsonl');
    expect(() => formatFromPath('x.parquet')).toThrow(/--format/);
  });
});
