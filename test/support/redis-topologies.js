import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPing } from './redis-server.js';

/** @param {string[]} args */
function startProcess(args) {
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  return child;
}

/** @param {import('node:child_process').ChildProcess} child */
function kill(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(undefined);
    child.once('exit', () => resolve(undefined));
    child.kill('SIGKILL');
  });
}

/**
 * A Redis Cluster of `masters` masters (no replicas) on free loopback ports, created with
 * `redis-cli --cluster create`. Returns the seed list for REDIS_CLUSTER_NODES.
 */
export async function startRedisCluster(masters = 3) {
  const dir = mkdtempSync(join(tmpdir(), 'ag-cluster-'));
  const ports = [];
  for (let i = 0; i < masters; i++) ports.push(await freePort());
  const children = ports.map((port) =>
    startProcess([
      '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
      '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '2000',
      '--save', '', '--appendonly', 'no', '--dir', dir,
    ]),
  );
  await Promise.all(ports.map((p) => waitForPing(p)));
  const created = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], {
    encoding: 'utf8',
  });
  if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
  // Wait until every node sees the whole cluster as ok.
  const deadline = Date.now() + 20_000;
  for (;;) {
    const states = ports.map((p) => spawnSync('redis-cli', ['-p', String(p), 'cluster', 'info'], { encoding: 'utf8' }).stdout);
    if (states.every((s) => s.includes('cluster_state:ok'))) break;
    if (Date.now() > deadline) throw new Error('cluster did not become ok');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    ports,
    nodes: ports.map((p) => `127.0.0.1:${p}`).join(','),
    async stop() {
      await Promise.all(children.map(kill));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * One master, one replica and three sentinels (quorum 2) on free loopback ports. `killMaster()`
 * SIGKILLs the current master to force a failover.
 */
export async function startSentinelSetup(name = 'agmaster') {
  const dir = mkdtempSync(join(tmpdir(), 'ag-sentinel-'));
  const masterPort = await freePort();
  const replicaPort = await freePort();
  const common = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  const master = startProcess(['--port', String(masterPort), ...common]);
  await waitForPing(masterPort);
  const replica = startProcess(['--port', String(replicaPort), '--replicaof', '127.0.0.1', String(masterPort), ...common]);
  await waitForPing(replicaPort);
  const sentinelPorts = [];
  const sentinels = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const conf = join(dir, `sentinel-${port}.conf`);
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${masterPort} 2`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 4000`,
        `sentinel parallel-syncs ${name} 1`,
        '',
      ].join('\n'),
    );
    sentinels.push(startProcess([conf, '--sentinel']));
    sentinelPorts.push(port);
  }
  await Promise.all(sentinelPorts.map((p) => waitForPing(p)));
  // Wait until the sentinels know the replica (needed for a failover).
  const deadline = Date.now() + 20_000;
  for (;;) {
    const out = spawnSync('redis-cli', ['-p', String(sentinelPorts[0]), 'sentinel', 'replicas', name], { encoding: 'utf8' }).stdout;
    if (out.includes(String(replicaPort))) break;
    if (Date.now() > deadline) throw new Error('sentinels did not discover the replica');
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    name,
    masterPort,
    replicaPort,
    sentinels: sentinelPorts.map((p) => `127.0.0.1:${p}`).join(','),
    /** The port the sentinels currently name as master. */
    currentMasterPort() {
      const out = spawnSync('redis-cli', ['-p', String(sentinelPorts[0]), 'sentinel', 'get-master-addr-by-name', name], { encoding: 'utf8' }).stdout;
      return Number(out.trim().split('\n')[1]);
    },
    async killMaster() {
      await kill(master);
    },
    async stop() {
      await Promise.all([master, replica, ...sentinels].map(kill));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
