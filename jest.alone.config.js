/** @type {import('jest').Config} */
const { testPathIgnorePatterns, ...base } = require('./jest.config.js');

// The files that must run with nothing else running (see jest.config.js), one at a time.
module.exports = { ...base, testMatch: ['**/spec/mime/memory.test.ts', '**/*.heavy.test.ts'], maxWorkers: 1 };
