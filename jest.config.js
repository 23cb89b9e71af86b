/** Two projects: fast unit specs beside the code, and the end-to-end suite against the real stack. */
const transform = { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json', diagnostics: false }] };
const moduleNameMapper = { '^@cibox/(.*)$': '<rootDir>/libs/$1/src' };

module.exports = {
  testTimeout: 120000,
  // One file at a time: the e2e files share one stack, and some count what it stored; on two cores
  // parallel files would only contend with the api, worker and sandboxes they exercise.
  maxWorkers: 1,
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform,
      moduleNameMapper,
      testMatch: ['<rootDir>/apps/*/src/**/*.spec.ts', '<rootDir>/libs/*/src/**/*.spec.ts', '<rootDir>/tools/**/*.spec.ts'],
    },
    {
      displayName: 'e2e',
      testEnvironment: 'node',
      transform,
      moduleNameMapper,
      testMatch: ['<rootDir>/apps/api-e2e/src/**/*.e2e-spec.ts', '<rootDir>/libs/*/src/**/*.e2e-spec.ts'],
      globalSetup: '<rootDir>/apps/api-e2e/src/support/global-setup.ts',
      globalTeardown: '<rootDir>/apps/api-e2e/src/support/global-teardown.ts',
    },
  ],
};
