// npm test: the compiled mirror of the tests under build/ (tools/build-tests.mjs), no TypeScript loader.
// `npx ava test/x.test.ts` still runs one file from source through tsx (package.json "ava").
export default {
  files: ['build/test/**/*.test.js'],
  nodeArguments: ['--enable-source-maps'],
  workerThreads: false,
  timeout: '120s',
  concurrency: 2,
};
