/**
 * Logouts seen by the process that handled them, delivered at once to the gateway sharing that process.
 *
 * The bus carries logouts to every gateway, but over NATS it is asynchronous and, while NATS is down, held
 * until it is back: a user who logs out in the all-in-one process must not find the token still accepted
 * for that long. Listeners are keyed by the bus instance, because a process's services share one bus and
 * several independent stacks (tests) in one process must not see each other's logouts.
 */
import type { Bus } from '../bus/types.ts';

type Listener = (sessionId: string) => void;

const listeners = new WeakMap<Bus, Set<Listener>>();

/** Called for every logout committed by a service using `bus`; returns a function that stops listening. */
export function onLocalLogout(bus: Bus, listener: Listener): () => void {
  let set = listeners.get(bus);
  if (!set) {
    set = new Set();
    listeners.set(bus, set);
  }
  set.add(listener);
  return () => set.delete(listener);
}

/** Tells this process's gateways that `sessionId` is revoked; call after the revocation is committed. */
export function localLogout(bus: Bus, sessionId: string): void {
  const set = listeners.get(bus);
  if (!set) return;
  for (const listener of set) listener(sessionId);
}
