#!/usr/bin/env node
import { runCli } from './program.js';

// `assetgate config check | head`: a reader that went away is not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

// The `assetgate` bin. The exit code is set, not forced, so `serve` keeps running after its action.
process.exitCode = await runCli(process.argv.slice(2), {
  out: (s) => process.stdout.write(s),
  outFlushed: (s) => new Promise((resolve, reject) => process.stdout.write(s, (err) => (err ? reject(err) : resolve()))),
  err: (s) => process.stderr.write(s),
  env: process.env,
  isTty: process.stderr.isTTY === true,
});
