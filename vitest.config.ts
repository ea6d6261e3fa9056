import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // The e2e suites start a loopback emulator per file; two workers match the 2-core CI box.
    maxWorkers: 2,
    testTimeout: 30_000,
  },
});
