import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';
import nx from '@nx/eslint-plugin';

// Which project may import which, by the tags in each package.json's "nx" block. The rule
// reads nx's project graph, so it also refuses a relative path into another project at
// any depth ('../../../../libs/x/src/y'): other projects are imported by package name.
const lib = ['type:lib', 'type:store', 'type:rpc', 'type:proto', 'type:testing'];
const moduleBoundaries = {
  enforceBuildableLibDependency: false,
  allow: [],
  depConstraints: [
    // Apps import libs, never another app, in production and test code alike: a service's
    // tests run a real registry through @larder/registry-service; tests that need two apps
    // live in apps/e2e.
    { sourceTag: 'type:app', onlyDependOnLibsWithTags: lib },
    { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:app', ...lib] },
    // Libs never import an app.
    { sourceTag: 'type:lib', onlyDependOnLibsWithTags: lib },
    // Stores are storage only: errors and configuration of their own, no gRPC layer.
    { sourceTag: 'type:store', onlyDependOnLibsWithTags: ['type:lib', 'type:store', 'type:proto', 'type:testing'] },
    { sourceTag: 'type:rpc', onlyDependOnLibsWithTags: ['type:lib', 'type:proto', 'type:testing'] },
    { sourceTag: 'type:testing', onlyDependOnLibsWithTags: lib },
    // Generated contracts stand alone (their specs use the test harness).
    { sourceTag: 'type:proto', onlyDependOnLibsWithTags: ['type:proto', 'type:testing'] },
    // The domain model imports nothing of ours but the contracts.
    { sourceTag: 'layer:core', onlyDependOnLibsWithTags: ['type:proto', 'type:testing'] },
    { sourceTag: 'type:example', onlyDependOnLibsWithTags: ['type:lib', 'type:proto'] },
    // The test runner, npm start and the benchmarks assemble everything.
    { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['*'] },
  ],
  // The CLI loads a lib when a command needs it (start-up time) and imports its types
  // statically; nx's lazy-loading check is for bundled chunks, which we do not have.
  checkDynamicDependenciesExceptions: ['@larder/*'],
  // A lib's own specs start real services through @larder/testing, which is built on that
  // lib: a cycle between projects in nx's graph, never between modules (no-cycle below
  // still checks those).
  ignoredCircularDependencies: [
    ['testing', 'proto'],
    ['testing', 'rpc'],
    ['testing', 'core'],
    ['testing', 'online-store'],
    ['testing', 'offline-store'],
    ['testing', 'registry-store'],
    ['testing', 'registry-client'],
    ['testing', 'auth'],
    ['testing', 'feature-repo'],
    ['testing', 'validation'],
    ['testing', 'sdk'],
    // validation's TFDV spec writes its definitions with the SDK, which validates with it.
    ['validation', 'sdk'],
  ],
};

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      'libs/proto/src/gen/**',
      '**/gen/**',
      'jest.config.js',
      '.nx/**',
      'tmp/**',
      // Code that must fail lint, for tools/lint's specs (they lint it with ignore off).
      'tools/lint-fixtures/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
      // Each project has one public surface: import '@larder/x', never '@larder/x/src/...'.
      'no-restricted-imports': ['error', { patterns: ['@larder/*/*'] }],
    },
    settings: {
      // The legacy `node: true` resolver tried .js and friends only, so './b' never reached
      // b.ts and no-cycle saw no edges at all (tools/lint's spec proves it does now).
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.tsx', '.js', '.json', '.node'] })],
      'import-x/extensions': ['.ts'],
    },
  },
  {
    files: ['**/*.ts', '**/*.tsx'],
    plugins: { '@nx': nx },
    rules: { '@nx/enforce-module-boundaries': ['error', moduleBoundaries] },
  },
);
