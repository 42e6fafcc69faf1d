/**
 * Preloaded into a Gaia process by footprint tests: on SIGUSR2 it writes the npm packages the process has
 * loaded so far as one JSON line on stderr.
 */
process.on('SIGUSR2', () => {
  const packages = new Set<string>();
  for (const path of Object.keys(require.cache)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path);
    if (m) packages.add(m[1]!);
  }
  process.stderr.write(`LOADED_PACKAGES ${JSON.stringify([...packages].sort())}\n`);
});
