import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

/** A server under test, run as a child process of its own so its RSS and CPU are its own. */
export interface ServerProcess {
  name: string;
  url: string;
  pid: number;
  /** Resident set size now, bytes (from /proc), summed over the process and its workers. */
  rss(): number;
  /** CPU time used so far, microseconds. */
  cpuMicros(): number;
  stop(): Promise<void>;
}

/** Children still running; killed if the bench process ends early (error, Ctrl-C). */
const running = new Set<ChildProcess>();
export function killLeftovers(): void {
  for (const child of running) child.kill('SIGKILL');
}

export function rssOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU time (user + system) the process has used so far, microseconds (from /proc, 10 ms ticks). */
export function cpuMicrosOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[11], fields[12] are utime and stime (the 14th and 15th of the whole line), in clock ticks
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return 0;
  }
}

/** The process and its descendants (WORKERS=N forks its workers: their CPU and memory count too). */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      const children = readFileSync(`/proc/${out[i]}/task/${out[i]}/children`, 'utf8').trim();
      if (children) out.push(...children.split(/\s+/).map(Number));
    } catch {
      /* gone */
    }
  }
  return out;
}

async function waitHealthy(url: string, child: ChildProcess, log: () => string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}: ${log()}`);
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`no answer at ${url}/healthz after ${timeoutMs} ms: ${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts `node script` with env on a loopback port and waits for /healthz. Its stdout goes to
 * `stdoutFile` (truncated), as a deployment's log lines go to a file or a pipe: a write to
 * /dev/null would make the access log look cheaper than it is.
 */
export async function startServer(
  name: string,
  script: string,
  port: number,
  env: Record<string, string>,
  nodeArgs: string[] = [],
  stdoutFile?: string,
): Promise<ServerProcess> {
  const stdout = stdoutFile ? openSync(stdoutFile, 'w') : 'ignore';
  const child = spawn(process.execPath, [...nodeArgs, script], {
    env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port) },
    stdio: ['ignore', stdout, 'pipe'],
  });
  if (typeof stdout === 'number') closeSync(stdout); // the child holds its own copy
  running.add(child);
  child.once('exit', () => running.delete(child));
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url, child, () => stderr);
  return {
    name,
    url,
    pid: child.pid!,
    rss: () => processTree(child.pid!).reduce((n, pid) => n + rssOf(pid), 0),
    cpuMicros: () => processTree(child.pid!).reduce((n, pid) => n + cpuMicrosOf(pid), 0),
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
