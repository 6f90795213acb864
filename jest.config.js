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

// Some files measure time or memory, and a busy neighbour skews what they see:
// - the memory test reads a child process's peak RSS. Beside a busy second worker, V8's
//   background threads that free dead Buffers can be starved and the peak doubles (seen in
//   CI: 123 MB instead of 64 MB), which says nothing about streaming;
// - the *.heavy.test.ts files time deliveries on the recording server's clock (no second
//   above 55 at a rate of 50), and a starved recorder stamps a backlog at one instant.
// `npm test` runs them after the rest, one at a time, with `jest -c jest.alone.config.js`.
module.exports = { ...base, testPathIgnorePatterns: ['/node_modules/', '<rootDir>/spec/mime/memory\\.test\\.ts$', '\\.heavy\\.test\\.ts$'] };
