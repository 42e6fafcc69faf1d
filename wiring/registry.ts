/**
 * The services this build can mount in-process. The launcher is the one place that knows them all;
 * services themselves never import each other.
 */
import { assetService } from '../services/asset/app.ts';
import { createAuthService } from '../services/auth/app.ts';
import { chatService } from '../services/chat/app.ts';
import { kbService } from '../services/kb/app.ts';
import type { ServiceName } from '../src/config.ts';
import type { ServiceFactory } from '../src/platform.ts';

export const SERVICE_FACTORIES: Partial<Record<ServiceName, ServiceFactory>> = {
  auth: createAuthService,
  asset: (deps) => assetService(deps),
  chat: chatService,
  kb: kbService,
};
