/**
 * The profile page: account information, usage statistics from the gateway, and the
 * display name, saved through `PATCH /api/v1/auth/user` (and into the re-issued cookie).
 */
import { Elysia } from 'elysia';
import { detailOf, htmlAnswer, readForm } from '../context.ts';
import { type Html, html } from '../html.ts';
import type { Kit } from '../kit.ts';
import { BTN_PRIMARY, box, CARD, documentPage, INPUT, LINK, pageLayout } from '../layout.ts';
import { displayName } from '../session/service.ts';

interface Stats {
  total_conversations: number;
  total_messages: number;
}

function profileView(name: string, email: string, stats: Stats | null): Html {
  return html`<div class="mb-2">
<h1 class="text-3xl font-bold text-white">Profile Settings</h1>
<p class="text-slate-400">Manage your account and preferences</p>
</div>
<div class="grid grid-cols-1 lg:grid-cols-2 gap-6 p-6">
<section class="${CARD}">
<h2 class="text-xl font-semibold text-white mb-4">Account Information</h2>
<div class="flex items-center space-x-4 mb-6">
<div class="w-20 h-20 rounded-full bg-gradient-to-br from-purple-600 to-pink-600 flex items-center justify-center text-3xl" aria-hidden="true">👤</div>
<div class="min-w-0">
<div class="text-lg font-medium text-white truncate" id="profile-name">${name}</div>
<div class="text-sm text-slate-400 truncate">${email}</div>
</div>
</div>
<h3 class="text-sm font-semibold text-slate-300 mb-3">Usage Statistics</h3>
<div class="grid grid-cols-2 gap-4">
<div class="bg-slate-900/50 rounded-lg p-4 text-center">
<div class="text-2xl font-bold text-purple-400" id="stat-conversations">${stats ? stats.total_conversations : '–'}</div>
<div class="text-xs text-slate-400">Conversations</div>
</div>
<div class="bg-slate-900/50 rounded-lg p-4 text-center">
<div class="text-2xl font-bold text-pink-400" id="stat-messages">${stats ? stats.total_messages : '–'}</div>
<div class="text-xs text-slate-400">Messages</div>
</div>
</div>
</section>
<section class="${CARD}">
<h2 class="text-xl font-semibold text-white mb-4">Account Settings</h2>
<form class="space-y-4" hx-post="/api/profile/update" hx-target="#profile-message" hx-swap="innerHTML">
<div>
<label for="profile-name-input" class="block text-sm text-slate-300 mb-1">Display Name</label>
<input id="profile-name-input" name="name" type="text" required maxlength="100" value="${name}" class="${INPUT}">
</div>
<div>
<label for="profile-email-input" class="block text-sm text-slate-300 mb-1">Email Address</label>
<input id="profile-email-input" name="email" type="email" readonly value="${email}" class="${INPUT} opacity-70">
</div>
<button type="submit" class="${BTN_PRIMARY}">Update Profile</button>
<div id="profile-message" aria-live="polite"></div>
</form>
<p class="mt-6"><a href="/chat" class="${LINK}">← Back to Chat</a></p>
</section>
</div>`;
}

export function profileRoutes(kit: Kit) {
  const { config } = kit.s;
  return new Elysia({ name: 'gaia-web-profile' })
    .get(
      '/profile',
      kit.handler('page', async (ctx) => {
        const s = ctx.requireSession();
        const { res, body } = await ctx.apiJson<Stats>('/api/v1/conversations/stats');
        const view = profileView(s.name, s.email, res.ok ? body : null);
        return htmlAnswer(documentPage(pageLayout('profile', view), { debug: config.debug }));
      }),
    )
    .post(
      '/api/profile/update',
      kit.handler('fragment', async (ctx) => {
        const s = ctx.requireSession();
        const form = await readForm(ctx.request);
        const name = (form.name ?? '').trim();
        if (!name || name.length > 100)
          return htmlAnswer(box('error', 'Display name must be between 1 and 100 characters.'));
        const { res, body } = await ctx.apiJson<any>('/api/v1/auth/user', {
          method: 'PATCH',
          json: { name },
        });
        if (!res.ok)
          return htmlAnswer(box('error', detailOf(body) || 'Failed to update profile. Please try again.'));
        const updated = body && typeof body === 'object' && body.id ? displayName(body) : name;
        await ctx.setSession({ ...ctx.requireSession(), name: updated || name, uid: s.uid });
        return htmlAnswer(box('success', '✓ Profile updated successfully!', null, 'status'));
      }),
      { parse: 'none' },
    );
}
