/** @type {import('jest').Config} */
const base = {
  testEnvironment: 'node',
  roots: ['<rootDir>/spec'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: { warnOnly: false } }],
  },
  testTimeout: 30000,
  // Tests start real servers on loopback ports; two workers suit the 2-core machines.
  maxWorkers: 2,
};

// The memory test measures a child process's peak RSS. Beside a busy second worker, V8's
// background threads that free dead Buffers can be starved and the peak doubles (seen in CI:
// 123 MB instead of 64 MB), which says nothing about streaming. `npm test` runs it alone,
// after the rest, with `jest -c jest.memory.config.js`.
module.exports = { ...base, testPathIgnorePatterns: ['/node_modules/', '<rootDir>/spec/mime/memory.test.ts'] };
