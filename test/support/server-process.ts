import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './redis-server.js';

/** The built server (`dist/`, by the jest global setup), run as a user runs it. */
export const SERVER_ENTRY = 'dist/src/server.js';

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  port: number;
  /** What the process wrote to stdout (its JSON log lines). */
  stdout(): string;
  /** stdout and stderr as they arrived (start-up failures, Node's own messages). */
  output(): string;
  /** Resolves with the exit code once the process has ended and all its output was read. */
  exited: Promise<number | null>;
  /** Resolves once a line of stdout or stderr matches (rejects after `limitMs`, naming what came). */
  waitForLine(pattern: RegExp, limitMs?: number): Promise<void>;
}

/**
 * Starts `node [nodeArgs] dist/src/server.js` on a free loopback port with only the environment
 * made for its URL (PATH, PORT and HOST added), and by default waits for
 * its `assetgate listening` line. The caller stops it (kill) or lets `stopAll` do so.
 */
export async function startServerProcess(
  env: (url: string) => Record<string, string | undefined>,
  options: { nodeArgs?: string[]; waitUntilListening?: boolean } = {},
): Promise<ServerProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), SERVER_ENTRY], {
    env: { PATH: process.env.PATH, PORT: String(port), HOST: '127.0.0.1', ...env(url) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  const out: string[] = [];
  const all: string[] = [];
  child.stdout!.on('data', (d: Buffer) => {
    out.push(d.toString());
    all.push(d.toString());
  });
  child.stderr!.on('data', (d: Buffer) => all.push(d.toString()));
  // 'close', not 'exit': it comes after the last of stdout and stderr was read.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const output = () => all.join('');
  const seen = (pattern: RegExp) => output().split('\n').some((line) => pattern.test(line));
  const waitForLine = async (pattern: RegExp, limitMs = 20_000): Promise<void> => {
    const deadline = Date.now() + limitMs;
    while (!seen(pattern)) {
      if (child.exitCode !== null || child.signalCode !== null) {
        await exited;
        if (seen(pattern)) return;
        throw new Error(`the server ended without a line matching ${pattern}:\n${output()}`);
      }
      if (Date.now() > deadline) throw new Error(`no line matching ${pattern} in ${limitMs} ms:\n${output()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const server: ServerProcess = { child, url, port, stdout: () => out.join(''), output, exited, waitForLine };
  if (options.waitUntilListening ?? true) await waitForLine(/assetgate listening/);
  return server;
}

const started: ChildProcess[] = [];

/** Kills whatever a test file started and left running (for afterAll). */
export function stopAll(): void {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
