import type { Config } from 'jest';

const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/spec'],
  testMatch: ['**/*-spec.ts'],
  transform: {
    '^.+\\.c?ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
  },
  // Sources import siblings as './x.js' so the ESM build runs in Node; map them back to .ts.
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
    // The schema loader is a .cts module (CommonJS in both builds): its emitted name, back to
    // its source. Named, not a pattern: a dependency's own './x.cjs' must stay as it is.
    '^(\\.{1,2}/(?:.*/)?compileSchema)\\.cjs$': '$1.cts',
  },
  testTimeout: 30_000,
};

export default config;
