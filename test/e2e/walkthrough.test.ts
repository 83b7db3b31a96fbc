import { afterAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { freePort } from '../support/redis-server.js';

/**
 * The README's curl walkthrough, pasted into a shell against the real server started with nothing
 * configured: every step must do what its comment says (an asset token is single use, so a step that
 * reuses a spent one answers invalid_grant).
 */
const hasTools = ['curl', 'jq'].every((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0);
if (!hasTools) console.warn('walkthrough e2e skipped: curl or jq is absent');

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

function walkthroughScript(): string {
  const readme = readFileSync('README.md', 'utf8');
  const section = readme.slice(readme.indexOf('## Walkthrough with curl'));
  const block = /```sh\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error('README has no walkthrough shell block');
  return block[1]!;
}

(hasTools ? describe : describe.skip)('README walkthrough', () => {
  it('runs step by step against a fresh development server, no step refused', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['dist/src/server.js'], { env: { PATH: process.env.PATH, PORT: String(port) }, stdio: 'ignore' });
    children.push(child);
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 20_000;
    while (!(await fetch(`${base}/healthz`).then((r) => r.ok, () => false))) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error('server did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    // Each response on its own line, so every step's answer can be checked.
    const script = `set -e\ncurl() { command curl --fail-with-body "$@"; echo; }\n${walkthroughScript().replaceAll('localhost:3000', `127.0.0.1:${port}`)}`;
    const run = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 30_000 });
    expect(run.status).toBe(0);
    const answers = run.stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(answers.length).toBeGreaterThanOrEqual(4);
    for (const answer of answers) expect(answer).not.toHaveProperty('error');
    expect(answers.at(-1)).toMatchObject({ token_type: 'Bearer', issued_token_type: 'urn:ietf:params:oauth:token-type:access_token' });
    child.kill('SIGTERM');
  });
});
