/** Login, register and email pages. */
import { attrJson, type Html, html } from '../html.ts';
import { authLayout, BTN_PRIMARY, BTN_SECONDARY, box, INPUT, LINK } from '../layout.ts';

/** Accepts upper and lower case; the server lower-cases the address. */
export const EMAIL_PATTERN = '[A-Za-z0-9._%+\\-]+@[A-Za-z0-9.\\-]+\\.[A-Za-z]{2,}';

export type AuthMode = 'login' | 'register';

export interface AuthFormOptions {
  email?: string;
  next?: string;
  error?: string;
}

function fields(mode: AuthMode, o: AuthFormOptions): Html {
  return html`<form class="space-y-4" method="post" action="${mode === 'login' ? '/auth/login' : '/auth/register'}" hx-post="${mode === 'login' ? '/auth/login' : '/auth/register'}" hx-target="#auth-form-container" hx-swap="outerHTML">
${mode === 'login' && o.next ? html`<input type="hidden" name="next" value="${o.next}">` : null}
<div>
<label for="email" class="sr-only">Email address</label>
<input id="email" name="email" type="email" required autocomplete="email" placeholder="Email address" title="Please enter a valid email address" pattern="${EMAIL_PATTERN}" value="${o.email ?? ''}" class="${INPUT}">
</div>
<div>
<label for="password" class="sr-only">Password</label>
<input id="password" name="password" type="password" required minlength="6" autocomplete="${mode === 'login' ? 'current-password' : 'new-password'}" placeholder="Password" class="${INPUT}">
</div>
<button type="submit" class="w-full ${BTN_PRIMARY}">${mode === 'login' ? 'Sign In' : 'Sign Up'}</button>
</form>`;
}

/** `div#auth-form-container` with the form, and an error box above it after a failure. */
export function authFormContainer(mode: AuthMode, o: AuthFormOptions = {}): Html {
  return html`<div id="auth-form-container">
${o.error ? html`<div class="mb-4">${box('error', o.error)}</div>` : null}
${fields(mode, o)}
</div>`;
}

export interface AuthPageOptions extends AuthFormOptions {
  verified?: boolean;
  debug?: boolean;
}

export function authPage(mode: AuthMode, o: AuthPageOptions = {}): Html {
  const title = mode === 'login' ? 'Welcome Back' : 'Create Account';
  const other =
    mode === 'login'
      ? html`Don't have an account? <a href="/register" class="${LINK} font-medium">Sign up</a>`
      : html`Already have an account? <a href="/login" class="${LINK} font-medium">Sign in</a>`;
  const dev =
    mode === 'login' && o.debug
      ? html`<div class="mt-6 pt-4 border-t border-slate-700 text-center space-y-2">
<p class="text-xs text-slate-400">Dev: dev@gaia.local / testtest</p>
<button type="button" id="dev-login-button" class="${BTN_SECONDARY} text-xs" hx-post="/auth/dev-login" hx-target="#auth-form-container" hx-swap="outerHTML">Dev login</button>
</div>`
      : null;
  const above = o.verified
    ? box('success', '✅ Email verified successfully! You can now log in.', null, 'status')
    : null;
  return authLayout(
    html`<h1 class="text-3xl font-bold text-white text-center">${title}</h1>
<p class="text-slate-400 text-center mb-8">Experience the magic of Gaia</p>
${authFormContainer(mode, o)}
<p class="text-center text-sm text-slate-400 mt-6">${other}</p>
${dev}`,
    above,
  );
}

function actions(email: string): Html {
  return html`<div class="mt-6 flex items-center justify-center space-x-4 text-sm">
<button type="button" class="bg-transparent text-purple-400 underline py-2 px-2 rounded-lg hover:text-purple-300" hx-post="/auth/resend-verification" hx-vals="${attrJson({ email })}" hx-target="#auth-form-container" hx-swap="outerHTML">Resend verification</button>
<a href="/login" class="text-purple-400 underline hover:text-purple-300">Back to login</a>
</div>`;
}

export function unverifiedPanel(email: string): Html {
  return html`<div id="auth-form-container" class="text-center">
<h1 class="text-2xl font-bold text-white mb-6">⚠️ Email Not Verified</h1>
<p class="text-slate-300 mb-2">Your email address <span class="text-purple-400">${email}</span> is not yet verified.</p>
<p class="text-slate-400 text-sm">Please check your email and click the verification link to activate your account.</p>
${actions(email)}
</div>`;
}

export function checkEmailPanel(email: string): Html {
  return html`<div id="auth-form-container" class="text-center">
<h1 class="text-2xl font-bold text-white mb-6">📧 Check Your Email</h1>
<p class="text-slate-300 mb-2">We've sent a verification link to: <span class="text-purple-400">${email}</span></p>
<p class="text-slate-400 text-sm">Please check your email and click the verification link to activate your account.</p>
${actions(email)}
</div>`;
}

export function registeredPanel(email: string): Html {
  return html`<div id="auth-form-container" class="text-center space-y-4">
${box('success', '✓ Registration successful! You can now log in.', null, 'status')}
<a href="/login?email=${encodeURIComponent(email)}" class="${BTN_PRIMARY} inline-block">Continue to Sign In</a>
</div>`;
}

export function loginSuccess(): Html {
  return html`<div id="auth-form-container">${box('success', '✓ Login successful! Redirecting...', null, 'status')}</div>`;
}

/** The reply to "Resend verification" inside the panel: the box, and a way back. */
export function resendPanel(result: Html): Html {
  return html`<div id="auth-form-container" class="text-center space-y-4">
${result}
<a href="/login" class="text-purple-400 underline hover:text-purple-300 text-sm">Back to login</a>
</div>`;
}

export function verificationPage(email: string): Html {
  return authLayout(html`<div class="text-center">
<h1 class="text-2xl font-bold text-white mb-4">📧 Check Your Email</h1>
<p class="text-slate-300 mb-2">We've sent a verification link to <span class="text-purple-400">${email}</span>.</p>
<p class="text-slate-400 text-sm mb-6">Click the link in that email to activate your account, then sign in.</p>
<div id="message-area" class="mb-4" aria-live="polite"></div>
<p class="text-sm text-slate-400">Didn't receive the email? <button type="button" class="bg-transparent ${LINK} font-medium underline py-1 px-1 rounded-lg" hx-post="/auth/resend-verification" hx-vals="${attrJson({ email })}" hx-target="#message-area" hx-swap="innerHTML">Resend verification email</button></p>
<p class="mt-6"><a href="/login" class="${LINK} text-sm">Back to login</a></p>
</div>`);
}

export function confirmResultPage(message: string, signIn: boolean): Html {
  return authLayout(html`<div class="text-center">
<h1 class="text-2xl font-bold text-white mb-4">📧 Email Confirmation</h1>
${box(signIn ? 'info' : 'error', message)}
<p class="mt-6"><a href="/login" class="${LINK}">${signIn ? 'Sign in' : 'Back to login'}</a></p>
</div>`);
}

/** Supabase puts its result in the URL fragment, which only the browser sees: gaia.js finishes. */
export function confirmProcessingPage(): Html {
  return authLayout(html`<div class="text-center" id="confirm-processing" data-gaia-confirm="true">
<h1 class="text-2xl font-bold text-white mb-4">🔄 Processing Confirmation</h1>
<p class="text-slate-300" id="confirm-status" aria-live="polite">Please wait while we confirm your email…</p>
<p class="mt-6"><a href="/login" class="${LINK} text-sm">Back to login</a></p>
</div>`);
}
