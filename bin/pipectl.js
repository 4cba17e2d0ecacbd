#!/usr/bin/env node
import { main } from '../dist/cli.js';

main(process.argv).then((code) => {
  process.exitCode = code;
  // A Google client may keep retrying a dead backend in the background after pipectl has
  // given up and reported it; never let that keep a cron job waiting. The timer is unref'd,
  // so a process with nothing left to do exits at once and stdout is flushed normally.
  setTimeout(() => process.exit(code), 1500).unref();
});
