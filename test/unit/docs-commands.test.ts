import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * Shell commands in the documentation are pasted as they are. `A=1 B=2 cmd1 && cmd2` gives A and B
 * to cmd1 only: cmd2 runs without them (a production command that starts a development server).
 * Every shell block of the README and docs/ is read here and such a line is refused.
 */
const DOCS = ['README.md', 'SECURITY.md', 'bench/README.md', ...readdirSync('docs').filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** Fenced sh/bash/shell/console blocks and indented blocks, as logical lines (continuations joined). */
function shellLines(markdown: string): string[] {
  const blocks: string[] = [];
  const fenced = /^```(sh|bash|shell|console)\s*\n([\s\S]*?)^```/gm;
  for (const m of markdown.matchAll(fenced)) blocks.push(m[2]!);
  let indented: string[] = [];
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) inFence = !inFence;
    if (!inFence && /^ {4}\S/.test(line)) {
      indented.push(line.slice(4));
    } else if (indented.length) {
      blocks.push(indented.join('\n'));
      indented = [];
    }
  }
  return blocks.flatMap((b) => b.replace(/\s*\\\n\s*/g, ' ').split('\n')).map((l) => l.replace(/^\$ /, '').trim()).filter((l) => l && !l.startsWith('#'));
}

type Token = { word: string } | { op: string };

/** Top-level words and control operators of one line; quotes and $( ) are kept inside their word. */
function tokens(line: string): Token[] {
  const out: Token[] = [];
  let word = '';
  let quote: string | undefined;
  let depth = 0;
  const flush = () => {
    if (word) out.push({ word });
    word = '';
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      word += c;
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') {
      quote = c;
      word += c;
    } else if (c === '$' && line[i + 1] === '(') {
      depth += 1;
      word += '$(';
      i += 1;
    } else if (depth > 0) {
      word += c;
      if (c === '(') depth += 1;
      if (c === ')') depth -= 1;
    } else if (c === '#' && word === '') {
      break; // a comment
    } else if (/\s/.test(c)) {
      flush();
    } else if ('&|;'.includes(c)) {
      flush();
      const op = line.slice(i, i + 2) === '&&' || line.slice(i, i + 2) === '||' ? line.slice(i, i + 2) : c;
      out.push({ op });
      i += op.length - 1;
    } else {
      word += c;
    }
  }
  flush();
  return out;
}

/** True when inline assignments prefix a command that is followed by another command. */
function assignmentsReachOnlyTheFirstCommand(line: string): boolean {
  const toks = tokens(line);
  let i = 0;
  while (i < toks.length && 'word' in toks[i]! && /^[A-Za-z_][A-Za-z0-9_]*=/.test((toks[i] as { word: string }).word)) i += 1;
  if (i === 0 || i >= toks.length || !('word' in toks[i]!)) return false;
  return toks.slice(i).some((t) => 'op' in t && t.op !== '&');
}

describe('shell commands in the documentation', () => {
  it('recognises the pattern (and what is not it)', () => {
    expect(assignmentsReachOnlyTheFirstCommand('NODE_ENV=production REDIS_URL=redis://x npm run migrate && npm start')).toBe(true);
    expect(assignmentsReachOnlyTheFirstCommand('PORT=1 npm start | tee log')).toBe(true);
    expect(assignmentsReachOnlyTheFirstCommand('PORT=1 npm start')).toBe(false);
    expect(assignmentsReachOnlyTheFirstCommand('export NODE_ENV=production && npm start')).toBe(false);
    expect(assignmentsReachOnlyTheFirstCommand("ASSET=$(curl -s -X POST x -d '{\"a\":1}' | jq -r .asset_token)")).toBe(false);
    expect(assignmentsReachOnlyTheFirstCommand("X='a && b' npm start")).toBe(false);
    expect(shellLines('```sh\nA=1 \\\n  B=2 cmd && other\n```\n')).toEqual(['A=1 B=2 cmd && other']);
  });

  it.each(DOCS)('%s: no inline variables that reach only the first of several commands', (file) => {
    const offending = shellLines(readFileSync(file, 'utf8')).filter(assignmentsReachOnlyTheFirstCommand);
    expect(offending).toEqual([]);
  });
});
