/**
 * The parts every page shares: the document head, the logo, inline
 * boxes, buttons, and the two layouts without a sidebar (auth card, page layout with `nav#page-nav`).
 */
import favicon from '../../public/favicon.svg' with { type: 'text' };
import { type Html, html, type Renderable, raw } from './html.ts';

/**
 * The icon travels inside every page instead of as /static/favicon.svg: browsers fetch a linked favicon
 * on their own, outside the page's requests, and automation tools (Playwright) receive that fetch's events
 * out of order (its response before its request). Inline, there is no fetch at all, and one request less.
 */
const FAVICON_HREF = `data:image/svg+xml,${encodeURIComponent(favicon.trim())}`;

export const HTMX_CONFIG = '{"historyCacheSize":10,"allowEval":false,"selfRequestsOnly":true}';

export const PAGE_GRADIENT = 'bg-gradient-to-br from-indigo-950 via-purple-900 to-slate-900';
export const SIDEBAR_GRADIENT = 'bg-gradient-to-b from-slate-900 to-slate-800';
export const BTN_PRIMARY =
  'bg-gradient-to-r from-purple-600 to-pink-600 hover:from-purple-700 hover:to-pink-700 text-white font-medium py-2 px-4 rounded-lg shadow-lg transition-all duration-200 hover:scale-105 active:scale-95';
export const BTN_SECONDARY =
  'bg-slate-700 hover:bg-slate-600 text-white font-medium py-2 px-3 rounded-lg transition-colors duration-200';
export const BTN_GHOST =
  'bg-transparent text-slate-300 hover:text-white hover:bg-slate-700/50 py-2 px-4 rounded-lg';
export const BTN_DANGER =
  'bg-red-600/80 hover:bg-red-600 text-white font-medium py-1 px-3 rounded-lg text-xs transition-colors duration-200';
export const INPUT =
  'w-full bg-slate-800 border border-slate-600 text-white placeholder-slate-400 rounded-lg px-4 py-3 focus:outline-none focus:border-purple-500 focus:ring-2 focus:ring-purple-500/20';
export const CARD =
  'bg-slate-800/50 backdrop-blur-sm border border-slate-700 rounded-xl p-6 shadow-xl animate-fadeIn';
export const LINK = 'text-purple-400 hover:text-purple-300';

export interface DocumentOptions {
  debug: boolean;
  streamTimeoutS?: number;
  /** Keep this page out of htmx's localStorage history cache (it may show a secret once). */
  noHistory?: boolean;
}

export function documentPage(body: Renderable, o: DocumentOptions): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0, viewport-fit=cover">
<title>Gaia Platform</title>
<link rel="icon" href="${FAVICON_HREF}">
<link rel="stylesheet" href="/static/gaia.css">
<link rel="stylesheet" href="/static/animations.css">
<script src="/static/js/theme.js"></script>
<meta name="htmx-config" content="${HTMX_CONFIG}">
<script src="/static/htmx.min.js" defer></script>
<script src="/static/gaia.js" defer></script>
</head>
<body class="bg-slate-900 text-white antialiased" data-debug="${o.debug ? 'true' : 'false'}" data-stream-timeout="${o.streamTimeoutS ?? 120}"${o.noHistory ? raw(' hx-history="false"') : ''}>
${body}
</body>
</html>
`;
}

/**
 * Switches between the light and dark theme; the choice is kept in this browser (public/js/theme.js), and
 * without one the page follows the system's colour scheme.
 */
export function themeToggle(): Html {
  return html`<button type="button" id="theme-toggle" class="theme-toggle bg-slate-700/60 hover:bg-slate-600 text-white rounded-lg min-w-[44px] min-h-[44px] p-0 flex items-center justify-center" aria-label="Switch to light theme" title="Switch theme"><span class="theme-icon-dark" aria-hidden="true">☾</span><span class="theme-icon-light" aria-hidden="true">☀</span></button>`;
}

export function logo(large = false): Html {
  const box = large ? 'w-12 h-12 rounded-xl text-2xl' : 'w-8 h-8 rounded-lg text-lg';
  return html`<span class="inline-flex items-center"><span class="${box} bg-gradient-to-br from-purple-400 via-pink-400 to-blue-400 inline-flex items-center justify-center shadow-lg" aria-hidden="true">🦋</span><span class="text-base font-medium text-white ml-2">Gaia</span></span>`;
}

export type BoxKind = 'error' | 'success' | 'info' | 'warning';

const BOX_CLASSES: Record<BoxKind, [string, string]> = {
  error: ['bg-red-500/10 border-red-500/30 text-red-200', '⚠️'],
  success: ['bg-green-500/10 border-green-500/30 text-green-200', '✓'],
  info: ['bg-purple-500/10 border-purple-500/30 text-purple-200', 'ℹ️'],
  warning: ['bg-yellow-500/10 border-yellow-500/30 text-yellow-200', '⚠️'],
};

/**
 * An inline box. `text` is escaped and gets the kind's prefix unless it already starts
 * with a symbol of its own ("✅ Email verified…").
 */
export function box(kind: BoxKind, text: string, extra: Renderable = null, role = 'alert'): Html {
  const [cls, prefix] = BOX_CLASSES[kind];
  const body = /^[\p{L}\p{N}"'(]/u.test(text) ? `${prefix} ${text}` : text;
  return html`<div class="${cls} backdrop-blur-sm border px-4 py-3 rounded-lg shadow-lg" role="${role}">${body}${extra}</div>`;
}

export function toastContainer(): Html {
  return html`<div id="toast-container" class="fixed top-4 right-4 z-50 space-y-2" aria-live="polite"></div>`;
}

/** Login, register and the email pages: a centred card, no sidebar. */
export function authLayout(card: Renderable, above: Renderable = null): Html {
  return html`<div class="h-screen overflow-y-auto ${PAGE_GRADIENT}">
${toastContainer()}
<div class="min-h-screen flex items-center justify-center p-4">
<div class="w-full max-w-md">
${above ? html`<div class="mb-4">${above}</div>` : null}
<div class="${CARD}">
<div class="w-full max-w-md">
<div class="flex justify-center mb-4">${logo(true)}</div>
${card}
</div>
</div>
</div>
</div>
</div>`;
}

export type NavItem = 'chat' | 'personas' | 'api-keys' | 'kb' | 'assets' | 'usage' | 'profile' | null;

const NAV: Array<[NavItem, string, string]> = [
  ['chat', '/chat', 'Chat'],
  ['personas', '/personas', 'Personas'],
  ['api-keys', '/api-keys', 'API keys'],
  ['kb', '/kb', 'Knowledge'],
  ['assets', '/assets', 'Assets'],
  ['usage', '/usage', 'Usage'],
  ['profile', '/profile', 'Profile'],
];

/** The layout of the profile, personas, API keys and error pages. */
export function pageLayout(current: NavItem, content: Renderable, signedIn = true): Html {
  const links = signedIn
    ? [
        ...NAV.map(
          ([id, href, label]) =>
            html`<a href="${href}" class="block py-2 px-3 rounded-lg text-sm ${id === current ? 'bg-slate-700/60 text-white' : 'text-slate-300 hover:text-white hover:bg-slate-700/50'}"${id === current ? raw(' aria-current="page"') : ''}>${label}</a>`,
        ),
        html`<a href="/logout" class="block py-2 px-3 rounded-lg text-sm text-slate-300 hover:text-white hover:bg-slate-700/50">Logout</a>`,
      ]
    : [
        html`<a href="/login" class="block py-2 px-3 rounded-lg text-sm text-slate-300 hover:text-white hover:bg-slate-700/50">Sign in</a>`,
      ];
  return html`<div class="min-h-screen ${PAGE_GRADIENT}">
${toastContainer()}
<nav id="page-nav" class="${SIDEBAR_GRADIENT} border-b border-slate-700/50">
<div class="max-w-5xl mx-auto px-4 py-2 flex items-center justify-between">
<a href="${signedIn ? '/chat' : '/'}" class="flex items-center">${logo()}</a>
<div class="flex items-center">${themeToggle()}</div>
<button type="button" id="page-nav-toggle" class="md:hidden bg-slate-700 hover:bg-slate-600 text-white py-2 px-3 rounded-lg min-w-[44px] min-h-[44px]" aria-label="Open menu" aria-expanded="false" aria-controls="page-nav-links">☰</button>
<div id="page-nav-links" class="hidden md:flex md:items-center md:space-x-1 absolute md:static top-14 right-4 z-40 bg-slate-800 md:bg-transparent border md:border-0 border-slate-700 rounded-lg p-2 md:p-0 shadow-xl md:shadow-none">
${links}
</div>
</div>
</nav>
<main id="page-content" class="max-w-5xl mx-auto p-6">
${content}
</main>
</div>`;
}

export function notFoundCard(): Html {
  return html`<div class="${CARD} max-w-lg mx-auto text-center mt-12">
<h1 class="text-2xl font-bold text-white mb-4">404 - Page Not Found</h1>
<p class="text-slate-300 mb-6">The page you're looking for doesn't exist.</p>
<a href="/" class="${BTN_PRIMARY} inline-block">Go Home</a>
</div>`;
}

export function serverErrorCard(message = 'An unexpected error occurred. Please try again later.'): Html {
  return html`<div class="max-w-lg mx-auto mt-12">${box('error', message)}
<p class="text-center mt-6"><a href="/" class="${LINK}">Go Home</a></p></div>`;
}
