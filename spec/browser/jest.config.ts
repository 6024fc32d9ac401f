import type { Config } from 'jest';
import main from '../../jest.config';

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
  // As in the main config: sources import siblings as './x.js', and the schema loader is a .cts.
  transform: main.transform,
  moduleNameMapper: main.moduleNameMapper,
  testTimeout: 30_000,
};

export default config;
