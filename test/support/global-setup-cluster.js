import { startRedisCluster } from './redis-topologies.js';

/** The cluster project: the integration suites run again against a 3-master Redis Cluster. */
export default async function globalSetupCluster() {
  if (process.env.TEST_REDIS_CLUSTER_NODES) return;
  const cluster = await startRedisCluster(3);
  globalThis.__agCluster = cluster;
  process.env.TEST_REDIS_CLUSTER_NODES = cluster.nodes;
}
