/** Starts the chat service alone (split mode): `bun services/chat/index.ts`. */
import { runService } from '../../wiring/service-runner.ts';

await runService('chat');
