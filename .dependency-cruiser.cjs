/**
 * dependency-cruiser: `npm run lint:cycles` fails on any import cycle among the project's own
 * modules (packages/*\/src, apps/*\/src, bench, e2e, soak), type-only imports included, following the
 * workspace packages (@shoal/*) into their sources. TypeScript's NodeNext `./x.js` specifiers
 * resolve to `./x.ts` through tsconfig.json.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle: modules that need each other to load. Move the shared part into a module both import.',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    includeOnly: '^(packages/[^/]+/src|apps/[^/]+/src|bench|e2e|soak)/',
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'node', 'default'] },
    skipAnalysisNotInRules: true,
  },
};
