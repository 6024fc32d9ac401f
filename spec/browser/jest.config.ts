import type { Config } from 'jest';

/**
 * The browser tests: the demo page in real Chromium (`npm run test:browser`). Apart from the main
 * suite because they need a Chromium binary, and named `*.browser.ts` so that its `*-spec.ts`
 * pattern does not pick them up.
 */
const config: Config = {
  rootDir: '../..',
  testEnvironment: 'node',
  roots: ['<rootDir>/spec/browser'],
  testMatch: ['**/*.browser.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
  },
  // As in the main config: sources import siblings as './x.js'.
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testTimeout: 30_000,
};

export default config;
