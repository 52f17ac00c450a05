// One jest run over every app and lib, each its own project so that
// `jest --selectProjects rpc` (and nx's per-project `test` target) works.
const fs = require('node:fs');
const path = require('node:path');

const swc = [
  '@swc/jest',
  {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  },
];

function project(dir) {
  const root = path.join(__dirname, dir);
  return {
    displayName: path.basename(dir),
    rootDir: root,
    testMatch: ['<rootDir>/**/*.spec.ts'],
    // lint-fixtures hold code that must fail lint, not specs.
    testPathIgnorePatterns: ['/node_modules/', '/dist/', '/lint-fixtures/'],
    transform: { '^.+\\.ts$': swc },
    // Apps' barrels first (@larder/ingestion-app is apps/ingestion), then every lib.
    moduleNameMapper: {
      '^@larder/([a-z-]+)-app$': path.join(__dirname, 'apps/$1/src/index.ts'),
      '^@larder/(ui|e2e)$': path.join(__dirname, 'apps/$1/src/index.ts'),
      '^@larder/([a-z-]+)$': path.join(__dirname, 'libs/$1/src/index.ts'),
    },
    testEnvironment: 'node',
  };
}

// Every app and lib, and tools/ (the runner and the lint rules' own specs) as one project.
const dirs = ['apps', 'libs']
  .flatMap((top) =>
    fs.existsSync(path.join(__dirname, top))
      ? fs
          .readdirSync(path.join(__dirname, top), { withFileTypes: true })
          .filter((d) => d.isDirectory())
          .map((d) => `${top}/${d.name}`)
      : [],
  )
  .concat(['tools']);

module.exports = {
  projects: dirs.map(project),
  testTimeout: 30000,
};
