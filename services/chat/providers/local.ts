/**
 * The `local` provider: a real, deterministic, offline responder that never pretends to
 * be a language model. Every reply starts with `[gaia-local]` and is a pure function of the persona, the
 * prompt's user turns and the current message, so tests can see history carried over.
 */
import type { Config } from '../../../src/config.ts';
import { ProviderError } from './errors.ts';
import type { PromptMessage, Provider, ProviderEvent, ProviderRequest } from './types.ts';

const QUOTE_MAX = 200;

/** The quoted message: trimmed, cut to 200 code points, `...` when longer. */
function quote(message: string): string {
  const points = Array.from(message.trim());
  return points.length > QUOTE_MAX ? `${points.slice(0, QUOTE_MAX).join('')}...` : points.join('');
}

export function localReply(personaName: string, messages: PromptMessage[]): string {
  const users = messages.filter((m) => m.role === 'user');
  const current = users.at(-1)?.content ?? '';
  return `[gaia-local] Offline reply from ${personaName} (no language model is configured). Turn ${users.length}. You said: "${quote(current)}"`;
}

/** One delta per word, each with its trailing whitespace. */
export function localDeltas(reply: string): string[] {
  return reply.match(/\s*\S+\s*/g) ?? [];
}

function promptChars(req: ProviderRequest): number {
  let n = req.system.length;
  for (const m of req.messages) n += m.content.length;
  return n;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError());
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(abortError());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function abortError(): Error {
  const e = new Error('aborted');
  e.name = 'AbortError';
  return e;
}

export function createLocalProvider(chat: Config['chat']): Provider {
  return {
    id: 'local',
    supportsTools: false,
    async check() {},
    async *stream(req: ProviderRequest, signal: AbortSignal): AsyncIterable<ProviderEvent> {
      const current = [...req.messages].reverse().find((m) => m.role === 'user')?.content ?? '';
      const faults = chat.localFaults;
      if (faults && current.includes('[[local:hang]]')) {
        await new Promise<never>((_, reject) => {
          if (signal.aborted) reject(abortError());
          signal.addEventListener('abort', () => reject(abortError()), { once: true });
        });
      }
      if (faults && current.includes('[[local:error]]'))
        throw new ProviderError('http', 'local fault hook', 500, 'local fault hook');
      const failAfter = faults && current.includes('[[local:error-after-3]]') ? 3 : -1;

      const reply = localReply(req.personaName ?? 'Mu', req.messages);
      // Output is bounded by max_tokens like a real model's (4 characters per token), ending with `length`.
      const limit = req.maxTokens * 4;
      const text = reply.length > limit ? reply.slice(0, limit) : reply;
      yield { type: 'usage', input: Math.ceil(promptChars(req) / 4) };
      let sent = 0;
      for (const delta of localDeltas(text)) {
        if (sent === failAfter) throw new ProviderError('http', 'local fault hook', 500, 'local fault hook');
        if (sent > 0 && chat.localDelayMs > 0) await sleep(chat.localDelayMs, signal);
        if (signal.aborted) throw abortError();
        yield { type: 'text', text: delta };
        sent++;
      }
      if (sent === failAfter) throw new ProviderError('http', 'local fault hook', 500, 'local fault hook');
      yield { type: 'usage', output: Math.ceil(text.length / 4) };
      yield { type: 'finish', reason: text.length < reply.length ? 'length' : 'stop' };
    },
  };
}
