// setupFiles of the default project: a standalone redis-server.
process.env.TEST_REDIS_TOPOLOGY = 'standalone';
