/** @type {import('jest').Config} */
const { testPathIgnorePatterns, ...base } = require('./jest.config.js');

// The memory test alone, in one worker, with nothing else running (see jest.config.js).
module.exports = { ...base, testMatch: ['**/spec/mime/memory.test.ts'], maxWorkers: 1 };
