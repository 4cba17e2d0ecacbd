// Preloaded into a measured child (`node -r bench/rss-probe.cjs ...`): writes the process's
// peak resident set size, in kilobytes, to PIPECTL_RSS_FILE when it exits.
const { writeFileSync } = require('node:fs');

process.on('exit', () => {
  if (process.env.PIPECTL_RSS_FILE) {
    writeFileSync(process.env.PIPECTL_RSS_FILE, String(process.resourceUsage().maxRSS));
  }
});
