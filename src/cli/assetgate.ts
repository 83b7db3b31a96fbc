#!/usr/bin/env node
import { runCli } from './program.js';

// The `assetgate` bin. The exit code is set, not forced, so `serve` keeps running after its action.
process.exitCode = await runCli(process.argv.slice(2), {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  env: process.env,
  isTty: process.stderr.isTTY === true,
});
