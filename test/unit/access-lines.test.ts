import { describe, expect, it } from '@jest/globals';
import { AccessLines, LOG_BUFFER_CHARS } from '../../src/ops/logger.js';

/**
 * The gathered access lines leave in chunks of whole lines, each at most LOG_BUFFER_CHARS: for the
 * ASCII access lines, at most PIPE_BUF (4096) bytes, the size up to which a write to a pipe is
 * atomic, so workers sharing one stdout never split each other's lines.
 */
const PIPE_BUF = 4096;

function recorder(): { writes: string[]; out: { write(text: string): void } } {
  const writes: string[] = [];
  return { writes, out: { write: (text: string) => void writes.push(text) } };
}

/** Lines shaped like access lines, of varying length (the request id and timing vary). */
function accessLine(n: number): string {
  return `${JSON.stringify({ level: 30, time: 1_700_000_000_000 + n, reqId: `r${'x'.repeat(n % 60)}-${n}`, method: 'GET', route: '/resource', status: 200, ms: n % 97, msg: 'request' })}\n`;
}

describe('AccessLines', () => {
  it('writes whole lines, in order, in chunks that never pass the bound (one atomic pipe write each)', () => {
    expect(LOG_BUFFER_CHARS).toBeLessThanOrEqual(PIPE_BUF);
    const { writes, out } = recorder();
    const gathered = new AccessLines(out, LOG_BUFFER_CHARS);
    const lines = Array.from({ length: 2000 }, (_, n) => accessLine(n));
    for (const line of lines) gathered.write(line);
    gathered.handOn();
    expect(writes.join('')).toBe(lines.join(''));
    for (const chunk of writes) {
      expect(Buffer.byteLength(chunk)).toBeLessThanOrEqual(PIPE_BUF);
      expect(chunk.endsWith('\n')).toBe(true);
    }
    // Gathered, not written one by one: each chunk holds as many lines as fit.
    const average = lines.join('').length / lines.length;
    expect(writes.length).toBeLessThan((lines.length * average) / (LOG_BUFFER_CHARS - 2 * 250) + 1);
  });

  it('hands a line longer than the bound on alone, after what was gathered before it', () => {
    const { writes, out } = recorder();
    const gathered = new AccessLines(out, 100);
    gathered.write('a\n');
    const long = `${'b'.repeat(150)}\n`;
    gathered.write(long);
    gathered.write('c\n');
    gathered.handOn();
    expect(writes).toEqual(['a\n', long, 'c\n']);
  });

  it('writes nothing until the bound or a hand-on, and nothing when empty', () => {
    const { writes, out } = recorder();
    const gathered = new AccessLines(out, 100);
    gathered.handOn();
    gathered.write('one\n');
    gathered.write('two\n');
    expect(writes).toEqual([]);
    gathered.handOn();
    gathered.handOn();
    expect(writes).toEqual(['one\ntwo\n']);
  });
});
