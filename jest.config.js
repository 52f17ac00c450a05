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
    testPathIgnorePatterns: ['/node_modules/', '/dist/'],
    transform: { '^.+\\.ts$': swc },
    moduleNameMapper: { '^@larder/([a-z-]+)$': path.join(__dirname, 'libs/$1/src/index.ts') },
    testEnvironment: 'node',
  };
}

const dirs = ['apps', 'libs', 'tools']
  .flatMap((top) =>
    fs.existsSync(path.join(__dirname, top))
      ? fs.readdirSync(path.join(__dirname, top), { withFileTypes: true })
          .filter((d) => d.isDirectory())
          .map((d) => `${top}/${d.name}`)
      : [],
  )
  .filter((dir) => dir.startsWith('tools/') === false || dir === 'tools/test');

module.exports = {
  projects: dirs.map(project),
  testTimeout: 30000,
};
