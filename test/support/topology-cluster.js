// setupFiles of the cluster project: the harness and the stores connect to the Redis Cluster (when
// the global setup could make one; see global-setup-cluster.js).
process.env.TEST_REDIS_TOPOLOGY = process.env.TEST_REDIS_CLUSTER_NODES ? 'cluster' : 'standalone';
