// npm test: the compiled mirror of the tests under build/ (tools/build-tests.mjs), no TypeScript loader.
// `npx ava test/x.test.ts` still runs one file from source through tsx (package.json "ava").
// The tests that wait longest on real time (the soak, real servers) start first, beside the short ones.
const FIRST = ['/test/soak/', '/test/interop/'];
const rank = (file) => {
  const i = FIRST.findIndex((dir) => file.includes(dir));
  return i < 0 ? FIRST.length : i;
};

export default {
  sortTestFiles: (a, b) => rank(a) - rank(b) || a.localeCompare(b),
  files: ['build/test/**/*.test.js'],
  nodeArguments: ['--enable-source-maps'],
  workerThreads: false,
  timeout: '120s',
  concurrency: 2,
};
