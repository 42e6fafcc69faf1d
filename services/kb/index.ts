/** Starts the kb service alone (split mode): `bun services/kb/index.ts`. */
import { runService } from '../../wiring/service-runner.ts';

await runService('kb');
