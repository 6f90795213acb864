// Lint: type-aware checks for the mistakes the compiler lets through (a promise
// nobody awaits, a cast that changes nothing, a switch that misses a case), and
// the import rule that keeps the layers apart: lib <- mime <- smtp, bounce <- cli.
import tseslint from 'typescript-eslint';

const layer = (message, ...folders) => ({
  'no-restricted-imports': ['error', { patterns: [{ regex: `(^|/)(${folders.join('|')})(/|$)`, message }] }],
});

export default tseslint.config(
  { ignores: ['dist/**', 'dist-bench/**', 'coverage/**', 'node_modules/**', '**/*.js', '**/*.mjs'] },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { project: ['./tsconfig.json'], tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unnecessary-type-assertion': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
    },
  },
  { files: ['lib/**/*.ts'], rules: layer('lib/ is the leaf layer: it imports nothing from mime/, smtp/, bounce/ or cli/.', 'mime', 'smtp', 'bounce', 'cli') },
  { files: ['mime/**/*.ts'], rules: layer('mime/ imports nothing from smtp/, bounce/ or cli/: they build on mime, not the other way round.', 'smtp', 'bounce', 'cli') },
  { files: ['smtp/**/*.ts', 'bounce/**/*.ts'], rules: layer('smtp/ and bounce/ import nothing from cli/.', 'cli') },
);
