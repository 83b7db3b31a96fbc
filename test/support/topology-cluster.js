// setupFiles of the cluster project: the harness and the stores connect to the Redis Cluster.
process.env.TEST_REDIS_TOPOLOGY = 'cluster';
