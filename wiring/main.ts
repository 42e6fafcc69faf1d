/**
 * The all-in-one launcher: `bun run dev`, `bun start`, and the container's default command.
 * With GAIA_SERVICE=<name> it starts that one service instead (the container's split mode); with an operator
 * command (`gaia migrate`, `gaia grant-admin EMAIL`, …, see wiring/cli.ts) it runs that and exits.
 */
import { ConfigError, loadConfig, selectedService } from '../src/config.ts';
import { makeLogger, onShutdown } from '../src/platform.ts';
import { runCommand } from './cli.ts';
import { runService } from './service-runner.ts';
import { startAllInOne } from './stack.ts';

async function main(): Promise<void> {
  const only = selectedService();
  if (only) {
    await runService(only);
    return;
  }
  const config = loadConfig(process.env, { service: 'all' });
  const log = makeLogger(config, 'gaia');
  const stack = await startAllInOne({ config, log });
  onShutdown(log, () => stack.stop());
}

// An argument is always a command: a misspelt one must not start a server instead.
const command = process.argv[2];
if (command !== undefined) process.exit(await runCommand(process.argv.slice(2)));

main().catch((err) => {
  // A configuration error names the variable; anything else is reported without a stack trace of secrets.
  if (err instanceof ConfigError) console.error(err.message);
  else console.error('Gaia failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
