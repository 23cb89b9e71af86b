// Resolves the workspace's `@cibox/<lib>` imports to the compiled libs under dist/ at run time.
const Module = require('node:module');
const path = require('node:path');

const libs = path.resolve(__dirname, '..', 'dist', 'libs');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request.startsWith('@cibox/')) request = path.join(libs, request.slice('@cibox/'.length), 'src');
  return resolve.call(this, request, ...rest);
};
