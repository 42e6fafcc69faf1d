/**
 * The services this build can mount in-process. The launcher is the one place that knows them all;
 * services themselves never import each other.
 */
import { assetService } from '../services/asset/app.ts';
import { createAuthService } from '../services/auth/app.ts';
import { chatService } from '../services/chat/app.ts';
import { kbService } from '../services/kb/app.ts';
import type { ServiceName } from '../src/config.ts';
import { instrumentHandler } from '../src/metrics.ts';
import type { ServiceFactory } from '../src/platform.ts';

/** Every answer a service gives is counted and timed under its route template, mounted in-process or not. */
const measured =
  (name: ServiceName, factory: ServiceFactory): ServiceFactory =>
  async (deps) => {
    const svc = await factory(deps);
    return { ...svc, handle: instrumentHandler(name, svc.routes ?? [], svc.handle) };
  };

export const SERVICE_FACTORIES: Partial<Record<ServiceName, ServiceFactory>> = {
  auth: measured('auth', createAuthService),
  asset: measured('asset', (deps) => assetService(deps)),
  chat: measured('chat', chatService),
  kb: measured('kb', kbService),
};
