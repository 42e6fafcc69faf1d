/**
 * Starts the web UI alone (split mode): `bun services/web/index.ts`. It reaches the gateway over HTTP at
 * GATEWAY_URL (default http://localhost:<GATEWAY_PORT>).
 */
import { runService } from '../../wiring/service-runner.ts';

await runService('web');
