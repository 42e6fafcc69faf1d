/** Starts the asset service alone (split mode): `bun services/asset/index.ts`. */
import { runService } from '../../wiring/service-runner.ts';

await runService('asset');
