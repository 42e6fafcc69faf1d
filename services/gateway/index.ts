/** Starts the gateway alone (split mode): `bun services/gateway/index.ts`. */
import { runService } from '../../wiring/service-runner.ts';

await runService('gateway');
