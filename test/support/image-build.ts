import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';

/**
 * A container image build without a container engine, for CI: the build context filtered by
 * .dockerignore, each stage a directory standing for its filesystem, COPY taking only what the
 * context (or an earlier stage) holds, RUN executed in the stage's WORKDIR. What the image would lack,
 * the emulation lacks too, so a build that reaches outside what the Dockerfile copies fails here as
 * it would fail in `docker build`. The base image is this machine's Node and npm.
 */

export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

/** Dockerfile instructions with line continuations joined and comments dropped. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let line = lines[i]!;
    if (/^\s*(#|$)/.test(line)) continue;
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      i += 1;
      const next = lines[i]!;
      if (/^\s*#/.test(next)) continue;
      line = line.replace(/\\\s*$/, ' ') + next.trim();
    }
    const match = /^\s*(\w+)\s+(.*)$/.exec(line);
    if (!match) throw new Error(`Dockerfile line ${start}: cannot parse "${line}"`);
    out.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim(), line: start });
  }
  return out;
}

/** Docker's .dockerignore matching: each pattern against the path and its parents, the last match wins. */
export function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negated = l.startsWith('!');
      const pattern = posix.normalize((negated ? l.slice(1) : l).trim().replace(/^\/+/, '')).replace(/\/+$/, '');
      let source = '';
      for (let i = 0; i < pattern.length; i++) {
        const c = pattern[i]!;
        if (c === '*' && pattern[i + 1] === '*') {
          source += '.*';
          i += 1;
          if (pattern[i + 1] === '/') i += 1;
        } else if (c === '*') source += '[^/]*';
        else if (c === '?') source += '[^/]';
        else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
      }
      return { negated, regex: new RegExp(`^${source}$`) };
    });
  return (path: string) => {
    const parts = path.split('/');
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const rule of rules) if (candidates.some((c) => rule.regex.test(c))) excluded = !rule.negated;
    return excluded;
  };
}

/** The build context: every file of `root` that .dockerignore lets through, copied to `dest`. */
export function buildContext(root: string, dest: string): string[] {
  const ignoreFile = join(root, '.dockerignore');
  const ignored = existsSync(ignoreFile) ? dockerignore(readFileSync(ignoreFile, 'utf8')) : () => false;
  const files: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel))) {
      const path = rel ? `${rel}/${name}` : name;
      const stat = statSync(join(root, path));
      if (stat.isDirectory()) {
        // A directory may be excluded while something under it is let back in: walk it anyway.
        walk(path);
      } else if (!ignored(path)) {
        files.push(path);
        mkdirSync(dirname(join(dest, path)), { recursive: true });
        cpSync(join(root, path), join(dest, path));
      }
    }
  };
  walk('');
  return files;
}

export interface Stage {
  name: string | undefined;
  base: string;
  root: string;
  workdir: string;
  env: Record<string, string>;
  cmd: string[] | undefined;
  healthcheck: string[] | undefined;
  exposed: string[];
}

export interface BuildOptions {
  /** Environment added to every RUN (e.g. npm_config_offline=true: install from the local cache). */
  runEnv?: Record<string, string>;
  /** Told each RUN step before it runs. */
  log?: (line: string) => void;
}

const jsonArray = (args: string): string[] | undefined => {
  if (!args.startsWith('[')) return undefined;
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) throw new Error(`not a JSON string array: ${args}`);
  return parsed as string[];
};

/** Splits `a b c` (COPY arguments) honouring the JSON form. */
const words = (args: string): string[] => jsonArray(args) ?? args.split(/\s+/).filter(Boolean);

/**
 * Runs the Dockerfile's stages in `workRoot` (one directory per stage) and returns them, the last
 * being the image. Throws with the failing instruction's line and output when a step fails.
 */
export function emulateBuild(contextDir: string, dockerfile: string, workRoot: string, options: BuildOptions = {}): Stage[] {
  const stages: Stage[] = [];
  let stage: Stage | undefined;
  const inStage = (s: Stage, path: string) => join(s.root, posix.resolve(s.workdir, path));
  for (const ins of parseDockerfile(dockerfile)) {
    const at = `Dockerfile line ${ins.line} (${ins.keyword} ${ins.args})`;
    if (ins.keyword === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`${at}: cannot parse`);
      const root = join(workRoot, `stage-${stages.length}`);
      mkdirSync(root, { recursive: true });
      stage = { name: m[2], base: m[1]!, root, workdir: '/', env: {}, cmd: undefined, healthcheck: undefined, exposed: [] };
      stages.push(stage);
      continue;
    }
    if (!stage) throw new Error(`${at}: before FROM`);
    switch (ins.keyword) {
      case 'WORKDIR':
        stage.workdir = posix.resolve(stage.workdir, ins.args);
        mkdirSync(join(stage.root, stage.workdir), { recursive: true });
        break;
      case 'ENV': {
        const pairs = [...ins.args.matchAll(/(\w+)=("[^"]*"|\S*)/g)];
        if (pairs.length === 0) throw new Error(`${at}: only the KEY=value form is supported`);
        for (const [, key, value] of pairs) stage.env[key!] = value!.replace(/^"(.*)"$/, '$1');
        break;
      }
      case 'COPY': {
        const parts = words(ins.args);
        const flags = parts.filter((p) => p.startsWith('--'));
        const paths = parts.filter((p) => !p.startsWith('--'));
        const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
        const source = from === undefined ? undefined : stages.find((s) => s.name === from);
        if (from !== undefined && !source) throw new Error(`${at}: no stage named ${from}`);
        const dest = paths.pop()!;
        for (const src of paths) {
          if (/[*?[]/.test(src)) throw new Error(`${at}: wildcards are not emulated`);
          const origin = source ? join(source.root, posix.resolve(source.workdir, src)) : join(contextDir, src);
          if (!existsSync(origin)) throw new Error(`${at}: ${src} is not in the ${source ? `stage ${from}` : 'build context'}`);
          const isDir = statSync(origin).isDirectory();
          const target = dest.endsWith('/') && !isDir ? join(inStage(stage, dest), posix.basename(src)) : inStage(stage, dest);
          mkdirSync(isDir ? target : dirname(target), { recursive: true });
          cpSync(origin, target, { recursive: true, verbatimSymlinks: true });
        }
        break;
      }
      case 'RUN': {
        const argv = jsonArray(ins.args) ?? ['sh', '-c', ins.args];
        options.log?.(`RUN ${ins.args}`);
        const result = spawnSync(argv[0]!, argv.slice(1), {
          cwd: join(stage.root, stage.workdir),
          env: { PATH: process.env.PATH, HOME: process.env.HOME, ...stage.env, ...options.runEnv },
          encoding: 'utf8',
          maxBuffer: 64 * 1024 * 1024,
        });
        if (result.status !== 0) throw new Error(`${at} failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
        break;
      }
      case 'CMD':
        stage.cmd = jsonArray(ins.args) ?? ['sh', '-c', ins.args];
        break;
      case 'HEALTHCHECK': {
        const m = /\bCMD\s+(.*)$/.exec(ins.args);
        if (!m) throw new Error(`${at}: HEALTHCHECK without CMD`);
        stage.healthcheck = jsonArray(m[1]!) ?? ['sh', '-c', m[1]!];
        break;
      }
      case 'EXPOSE':
        stage.exposed.push(...words(ins.args));
        break;
      case 'USER':
      case 'LABEL':
      case 'STOPSIGNAL':
        break;
      default:
        throw new Error(`${at}: ${ins.keyword} is not emulated`);
    }
  }
  if (stages.length === 0) throw new Error('Dockerfile has no FROM');
  return stages;
}
