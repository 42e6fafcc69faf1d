/** Starts the auth service alone (split mode): `bun services/auth/index.ts`. */
import { runService } from '../../wiring/service-runner.ts';

await runService('auth');
