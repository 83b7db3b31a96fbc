// The project is ESM (jose 6 and nanoid 5 are ESM-only): jest runs with
// --experimental-vm-modules and ts-jest's ESM preset. Type-checking is `npm run typecheck`'s job,
// so ts-jest only transpiles (tsconfig isolatedModules).
//
// Two projects: `default` runs every suite against a standalone redis-server; `cluster` runs the
// integration suites again against a 3-master Redis Cluster that its global setup creates.
const common = {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, diagnostics: false }] },
};

/** @type {import('jest').Config} */
export default {
  testTimeout: 30000,
  maxWorkers: 2,
  projects: [
    {
      ...common,
      displayName: 'default',
      testMatch: ['**/*.test.ts'],
      setupFiles: ['<rootDir>/test/support/topology-standalone.js'],
      globalSetup: '<rootDir>/test/support/global-setup.js',
      globalTeardown: '<rootDir>/test/support/global-teardown.js',
    },
    {
      ...common,
      displayName: 'cluster',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      testPathIgnorePatterns: ['redis-outage'],
      setupFiles: ['<rootDir>/test/support/topology-cluster.js'],
      globalSetup: '<rootDir>/test/support/global-setup-cluster.js',
      globalTeardown: '<rootDir>/test/support/global-teardown-cluster.js',
    },
  ],
};
