import type { IncomingMessage, ServerResponse } from 'node:http';

/** Largest request body read (a recordEvents batch of the largest size fits). */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;

/** The body as text, or null when it is over MAX_BODY_BYTES (the rest is read and dropped). */
export function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooBig = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooBig ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  sendText(res, status, JSON.stringify(body), 'application/json; charset=utf-8');
}

export function sendText(res: ServerResponse, status: number, body: string, type: string): void {
  res.writeHead(status, { 'content-type': type }).end(body);
}
