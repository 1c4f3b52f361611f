import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { firstInvalidUtf8, MAX_LINE_BYTES, readLines } from './line-reader.js';

const dir = mkdtempSync(join(tmpdir(), 'graft-line-reader-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function linesOf(content: Buffer | string): Promise<string[]> {
  const path = join(dir, `f-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(path, content);
  const out: string[] = [];
  for await (const lines of readLines(path)) out.push(...lines);
  return out;
}

describe('readLines', () => {
  it('drops a BOM and \\r, and keeps a character split across two 1 MiB reads whole', async () => {
    expect(await linesOf('\ufeffa\r\nb\n\nc')).toEqual(['a', 'b', '', 'c']);
    // "é" is 2 bytes; put them on either side of the first read's end (1 << 20 bytes).
    const head = 'x'.repeat((1 << 20) - 1 - 2);
    const lines = await linesOf(`${head}\né\u20ac\nlast\n`);
    expect(lines.map((l) => l.length)).toEqual([head.length, 2, 4]);
    expect(lines[1]).toBe('é\u20ac');
  });
  it('rejects bytes that are not UTF-8 at their line, after yielding the lines before', async () => {
    const path = join(dir, 'latin1.txt');
    writeFileSync(path, Buffer.concat([Buffer.from('ok\nfine\ncaf'), Buffer.from([0xe9]), Buffer.from('\nmore\n')]));
    const seen: string[] = [];
    await expect(async () => {
      for await (const lines of readLines(path)) seen.push(...lines);
    }).rejects.toThrow(`${path}:3: byte 4 of the line (0xe9) is not UTF-8`);
    expect(seen).toEqual(['ok', 'fine']);
  });
  it('rejects a line longer than MAX_LINE_BYTES without holding the whole file', async () => {
    await expect(linesOf(`a\n${'z'.repeat(MAX_LINE_BYTES * 3)}`)).rejects.toThrow(/:2: the line is longer than 1,048,576 bytes/);
  });
});

describe('firstInvalidUtf8', () => {
  it.each([
    [[0x61, 0x62], 2], // valid: the length
    [[0x61, 0xff], 1],
    [[0xc3, 0xa9, 0xc3], 2], // truncated sequence
    [[0xc0, 0xaf], 0], // overlong "/"
    [[0xed, 0xa0, 0x80], 0], // a surrogate (U+D800)
    [[0xf4, 0x90, 0x80, 0x80], 0], // above U+10FFFF
    [[0xf0, 0x9f, 0x98, 0x80, 0x80], 4], // an emoji, then a stray continuation byte
  ])('%j -> %i', (bytes, at) => {
    expect(firstInvalidUtf8(Uint8Array.from(bytes))).toBe(at);
  });
});
