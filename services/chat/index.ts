/** Starts the chat service alone (split mode): `bun services/chat/index.ts`. */
import { runService } from '../../src/service-runner.ts';

await runService('chat');
