/**
 * What an auth provider does. `local` keeps users, passwords and sessions in Gaia's
 * database; `supabase` delegates them to a Supabase project through @supabase/supabase-js and mirrors the
 * users. Either way the HTTP contract is the same; only the provider-specific failures differ.
 */
import { HttpError } from '../../../src/http/errors.ts';
import type { Identity } from '../../../src/http/identity.ts';
import {
  type AuthResponseBody,
  type ConfirmInput,
  type ConfirmResult,
  MSG,
  type RegisterInput,
  type RequestContext,
  type ResendResult,
} from '../sessions/model.ts';
import type { UserObject } from '../users/model.ts';

export interface AuthProvider {
  readonly name: 'local' | 'supabase';
  /** `input.email` is already validated; providers apply their own further rules. */
  register(input: RegisterInput, ctx: RequestContext): Promise<AuthResponseBody>;
  /** Throws `LoginFailed` for wrong credentials, so the caller can count the failure. */
  login(email: string, password: string, ctx: RequestContext): Promise<AuthResponseBody>;
  refresh(refreshToken: string, ctx: RequestContext): Promise<AuthResponseBody>;
  /** Ends the caller's session; never throws for a missing or unusable token. */
  logout(identity: Identity, bearer: string | null): Promise<void>;
  confirm(input: ConfirmInput): Promise<ConfirmResult>;
  resend(email: string): Promise<ResendResult>;
  getUser(identity: Identity): Promise<UserObject | Record<string, unknown>>;
  updateName(
    identity: Identity,
    name: string,
    bearer: string | null,
  ): Promise<UserObject | Record<string, unknown>>;
  close?(): Promise<void>;
}

/** Wrong email or password (400): counted against the (address, email) login throttle and audited. */
export class LoginFailed extends HttpError {
  constructor(readonly userId: string | null) {
    super(400, MSG.loginInvalid);
  }
}

export const providerUnavailable = (): HttpError => new HttpError(503, MSG.providerDown);
export const userNotFound = (): HttpError => new HttpError(404, 'User not found');
