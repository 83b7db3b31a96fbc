import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import ts from 'typescript';

/**
 * assetgate/guard is embedded by other services: at run time it may load its own files and a few
 * pure modules it shares with the server (the credentials reader, the error shapes, the key layout
 * and record codec), never a server module (Redis store, migrations, the server's renderer, request
 * context, logger, configuration). The graph is walked on what TypeScript emits, so an import that
 * only names types costs nothing and an `import { type X }` (kept by verbatimModuleSyntax) counts.
 */
const ROOT = resolve(import.meta.dirname, '../..');
const GUARD = join(ROOT, 'src/guard');
const SHARED_WITH_THE_SERVER = new Set([
  'src/clock.ts',
  'src/dpop/constants.ts',
  'src/dpop/proof.ts',
  'src/oauth/constants.ts',
  'src/oauth/error-response.ts',
  'src/oauth/errors.ts',
  'src/oauth/protected-resource.ts',
  'src/oauth/respond.ts',
  'src/resource/challenge.ts',
  'src/resource/credentials.ts',
  'src/tokens/access-token.ts',
  'src/tokens/keys.ts',
  'src/tokens/record-codec.ts',
]);
const SPECIFIERS = /(?:^|;|\n)\s*(?:import|export)\s(?:[^'";]*?\sfrom\s*)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The modules a file loads at run time: relative ones resolved to their .ts source, packages by name. */
function runtimeImports(file: string): string[] {
  const js = ts.transpileModule(readFileSync(file, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2023, verbatimModuleSyntax: true },
    fileName: file,
  }).outputText;
  return [...js.matchAll(SPECIFIERS)].map((m) => {
    const spec = (m[1] ?? m[2])!;
    return spec.startsWith('.') ? resolve(dirname(file), spec.replace(/\.js$/, '.ts')) : spec;
  });
}

function runtimeClosure(roots: string[]): { modules: Set<string>; packages: Set<string> } {
  const modules = new Set<string>();
  const packages = new Set<string>();
  const todo = [...roots];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (modules.has(file)) continue;
    modules.add(file);
    for (const dep of runtimeImports(file)) {
      if (dep.startsWith('/')) todo.push(dep);
      else packages.add(dep);
    }
  }
  return { modules, packages };
}

describe('the guard library imports no server module', () => {
  const roots = readdirSync(GUARD)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(GUARD, f));
  const { modules, packages } = runtimeClosure(roots);
  const outside = [...modules].map((m) => relative(ROOT, m)).filter((m) => !m.startsWith('src/guard/'));

  it('loads only its own files and the pure modules it shares with the server', () => {
    expect(outside.filter((m) => !SHARED_WITH_THE_SERVER.has(m))).toEqual([]);
  });

  it('needs no package of the server process (Redis client, logger, configuration parser)', () => {
    for (const serverOnly of ['ioredis', 'pino', 'zod', '@koa/router', 'prom-client']) expect(packages).not.toContain(serverOnly);
  });

  it('sees through the walk: the server reaches its renderer and request context', () => {
    const server = [...runtimeClosure([join(ROOT, 'src/app.ts')]).modules].map((m) => relative(ROOT, m));
    expect(server).toEqual(expect.arrayContaining(['src/oauth/render-error.ts', 'src/ops/request-context.ts']));
  });
});

describe('the ingest consumer library (assetgate/ingest) imports no server module', () => {
  const { modules, packages } = runtimeClosure([join(ROOT, 'src/ingest/index.ts')]);
  const loaded = [...modules].map((m) => relative(ROOT, m));

  it('loads its consumer, status and key layout, and of the server only the key layout module', () => {
    expect(loaded.filter((m) => !m.startsWith('src/ingest/')).sort()).toEqual(['src/tokens/keys.ts']);
    // The sink, its metrics and the development sink are the server's side.
    expect(loaded).not.toEqual(expect.arrayContaining(['src/ingest/redis-sink.ts']));
    expect(loaded).not.toEqual(expect.arrayContaining(['src/ingest/metrics.ts']));
  });

  it('needs no package at run time: the service hands it its own Redis connection', () => {
    expect([...packages].filter((p) => !p.startsWith('node:'))).toEqual([]);
  });
});
