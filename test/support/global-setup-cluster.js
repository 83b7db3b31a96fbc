import { hasRedisServer } from './redis-server.js';
import { startRedisCluster } from './redis-topologies.js';

/**
 * The cluster project: the integration suites run again against a 3-master Redis Cluster made of
 * redis-servers of the run's own. Without the redis-server binary (tests then use TEST_REDIS_URL)
 * no cluster can be made: the project says so and runs those suites against that Redis again.
 */
export default async function globalSetupCluster() {
  if (process.env.TEST_REDIS_CLUSTER_NODES) return;
  if (!hasRedisServer()) {
    console.warn('cluster project: redis-server not found, so no Redis Cluster: running the integration suites on TEST_REDIS_URL instead');
    return;
  }
  const cluster = await startRedisCluster(3);
  globalThis.__agCluster = cluster;
  process.env.TEST_REDIS_CLUSTER_NODES = cluster.nodes;
}
