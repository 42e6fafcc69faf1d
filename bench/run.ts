/**
 * `bun run bench`: every benchmark, each against its baseline in the same run. Figures are printed;
 * record them in bench/RESULTS.md with the date and machine. Never part of `bun test`.
 * `bun run bench gateway` runs one.
 */
import { benchGateway, printGateway } from './gateway.ts';

const only = process.argv[2];
const benches: Record<string, () => Promise<void>> = {
  gateway: async () => {
    printGateway(await benchGateway());
  },
};
const extra = ['gateway-cpu', 'auth', 'chat', 'kb', 'asset', 'tools', 'web', 'metrics'] as const;
for (const name of extra) {
  const file = `${import.meta.dir}/${name}.ts`;
  if (await Bun.file(file).exists()) {
    benches[name] = async () => {
      const mod = (await import(file)) as { main?: () => Promise<void> };
      await mod.main?.();
    };
  }
}
console.log(
  `machine: ${navigator.hardwareConcurrency} cores, bun ${Bun.version}, ${new Date().toISOString()}`,
);
for (const [name, run] of Object.entries(benches)) {
  if (only && only !== name) continue;
  console.log(`\n== ${name} ==`);
  await run();
}
