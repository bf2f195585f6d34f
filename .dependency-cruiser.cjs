/**
 * The layering of docs/architecture.md, checked by `npm run lint`: a folder of src/ may import only
 * the folders below it. A wrong import fails CI instead of waiting for a reviewer.
 */
const LIBRARY_BELOW = {
  core: [],
  store: ['core'],
  locks: ['core', 'store'],
  queue: ['core', 'store'],
  flow: ['core', 'store', 'queue'],
  worker: ['core', 'store', 'queue'],
  schedule: ['core', 'store', 'queue', 'locks'],
  observe: ['core', 'store', 'queue'],
};

/** The shells and the built-in tasks sit above the whole library; what each may not reach. */
const ABOVE_LIBRARY = {
  maintenance: ['admin', 'server', 'cli'],
  admin: ['server', 'cli'],
  server: ['cli'],
};

const forbidden = [
  ...Object.entries(LIBRARY_BELOW).map(([layer, allowed]) => ({
    name: `${layer}-imports-only-${allowed.join('-') || 'itself'}`,
    comment: `src/${layer} may import ${allowed.length ? allowed.map((a) => `src/${a}`).join(', ') : 'nothing of ours'} (docs/architecture.md)`,
    severity: 'error',
    from: { path: `^src/${layer}/` },
    to: { path: '^src/', pathNot: `^src/(${[layer, ...allowed].join('|')})/` },
  })),
  ...Object.entries(ABOVE_LIBRARY).map(([layer, above]) => ({
    name: `${layer}-does-not-import-${above.join('-')}`,
    comment: `src/${layer} sits below src/${above.join(', src/')} (docs/architecture.md)`,
    severity: 'error',
    from: { path: `^src/${layer}/` },
    to: { path: `^src/(${above.join('|')})/` },
  })),
];

module.exports = {
  forbidden,
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
