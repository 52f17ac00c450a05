import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'libs/proto/src/gen/**', '**/gen/**', 'jest.config.js', '.nx/**', 'tmp/**'] },
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
      // Each lib has one public surface: import '@larder/x', never '@larder/x/src/...'.
      'no-restricted-imports': ['error', { patterns: ['@larder/*/*', '../../libs/*', '../../../libs/*'] }],
    },
    settings: { 'import-x/resolver': { node: true }, 'import-x/extensions': ['.ts'] },
  },
  {
    // Apps import libs; libs never import apps.
    files: ['libs/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['@larder/*/*', '**/apps/**', '@larder/*-app'] }],
    },
  },
);
