import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { GraftError } from '../errors.js';
import { MAX_ID_LENGTH } from './record-validator.js';

/**
 * Longest line a file may have, in bytes (1 MiB): room for every field at its limit
 * (`record-validator.ts`), and a bound on memory when a file has no line breaks at all.
 */
export const MAX_LINE_BYTES = 1 << 20;

const NEWLINE = 10;
const BOM = [0xef, 0xbb, 0xbf];

/**
 * The lines of a UTF-8 text file, streamed: yields arrays of complete lines (one array per
 * read chunk, ~1 MiB) without their `\n` / `\r\n`, so a 10M-line file is never held whole.
 * A leading byte-order mark is dropped. Faster than `readline`, which makes one event per line.
 *
 * Bytes that are not UTF-8 stop the read with `FILE:LINE` (a decoder that replaced them
 * with U+FFFD would make two different bad ids one), after the lines before them are
 * yielded; so does a line longer than `MAX_LINE_BYTES`. Lines are cut at the newline
 * byte, which never occurs inside a multi-byte character, so a chunk boundary that splits
 * a character is harmless.
 *
 * @example
 * for await (const lines of readLines('events.tsv')) for (const line of lines) handle(line);
 */
export async function* readLines(path: string): AsyncGenerator<string[]> {
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  let rest: Buffer = Buffer.alloc(0);
  let lineNo = 0; // lines yielded so far
  let first = true;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let bytes = rest.length === 0 ? chunk : Buffer.concat([rest, chunk]);
      if (first) {
        if (bytes[0] === BOM[0] && bytes[1] === BOM[1] && bytes[2] === BOM[2]) bytes = bytes.subarray(3);
        first = false;
      }
      const cut = bytes.lastIndexOf(NEWLINE);
      rest = cut === -1 ? bytes : bytes.subarray(cut + 1);
      if (cut !== -1) {
        const { lines, error } = decodeLines(path, bytes.subarray(0, cut), lineNo);
        lineNo += lines.length;
        if (lines.length > 0) yield lines;
        if (error) throw error;
      }
      if (rest.length > MAX_LINE_BYTES) throw tooLong(path, lineNo + 1);
      // A view into the chunk would pin all of it until the next read; copy the tail.
      if (rest.length > 0 && rest.buffer === chunk.buffer) rest = Buffer.from(rest);
    }
    if (rest.length > 0) {
      const { lines, error } = decodeLines(path, rest, lineNo);
      if (lines.length > 1 || (lines.length === 1 && lines[0] !== '')) yield lines;
      if (error) throw error;
    }
  } finally {
    stream.destroy();
  }
}

/**
 * The `\n`-separated lines of `bytes` (complete lines, the last without its `\n`), each
 * without a trailing `\r`; on bytes that are not UTF-8, the lines before the bad one and
 * the error to throw once they are handled.
 */
function decodeLines(path: string, bytes: Buffer, before: number): { lines: string[]; error?: GraftError } {
  if (!isUtf8(bytes)) {
    const bad = firstInvalidUtf8(bytes);
    const lineStart = bytes.lastIndexOf(NEWLINE, bad) + 1;
    const lines = lineStart === 0 ? [] : decodeLines(path, bytes.subarray(0, lineStart - 1), before).lines;
    const shown = `0x${bytes[bad]!.toString(16).padStart(2, '0')}`;
    const error = new GraftError(
      'BAD_INPUT',
      `${path}:${before + lines.length + 1}: byte ${bad - lineStart + 1} of the line (${shown}) is not UTF-8; convert the file to UTF-8 (e.g. \`iconv -f latin1 -t utf-8\`) or fix that line`,
    );
    return { lines, error };
  }
  const lines = bytes.toString('utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.charCodeAt(line.length - 1) === 13) lines[i] = line.slice(0, -1);
    if (line.length > MAX_LINE_BYTES) return { lines: lines.slice(0, i), error: tooLong(path, before + i + 1) };
  }
  return { lines };
}

function tooLong(path: string, line: number): GraftError {
  return new GraftError(
    'BAD_INPUT',
    `${path}:${line}: the line is longer than ${MAX_LINE_BYTES.toLocaleString('en-US')} bytes; fields have limits far below that (ids ${MAX_ID_LENGTH} characters), so check the line breaks and the format`,
  );
}

/**
 * Offset of the first byte of `bytes` that does not belong to a well-formed UTF-8
 * sequence (overlong forms, surrogates and code points above U+10FFFF are ill-formed too).
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    let cp: number;
    if (b >= 0xc2 && b <= 0xdf) [need, min, cp] = [1, 0x80, b & 0x1f];
    else if (b >= 0xe0 && b <= 0xef) [need, min, cp] = [2, 0x800, b & 0x0f];
    else if (b >= 0xf0 && b <= 0xf4) [need, min, cp] = [3, 0x10000, b & 0x07];
    else return i;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return bytes.length;
}
