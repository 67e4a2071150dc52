#!/usr/bin/env node
import { runCli } from "./run.js";

// `tessera sessions list | head` closes the pipe early: that is the reader's choice, not a
// failure worth a stack trace.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

// No top-level await: the CLI is built as CommonJS too, which has none.
void runCli(process.argv.slice(2), {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
}).then((code) => {
  process.exitCode = code;
});
