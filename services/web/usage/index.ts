/**
 * The usage page (`/usage`): what the signed-in user spent per UTC day — chat tokens and cost from the
 * chat ledger (`GET /api/v1/chat/usage`) and asset costs from their generation records (the pricing
 * analytics route) — as a chart (drawn by usage.js from the figures in a data attribute, since the CSP
 * allows no inline script) and the same figures in a table beside it.
 */
import { Elysia } from 'elysia';
import { detailOf, htmlAnswer, type WebContext } from '../context.ts';
import { type Html, html } from '../html.ts';
import type { Kit } from '../kit.ts';
import { box, CARD, documentPage, LINK, pageLayout } from '../layout.ts';

export const RANGES = [7, 30, 90] as const;
const DEFAULT_RANGE = 30;

interface ChatDay {
  date: string;
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
  cost: number;
  requests: number;
}

export interface UsageRow {
  date: string;
  inputTokens: number;
  outputTokens: number;
  requests: number;
  chatCost: number;
  assetCost: number;
}

const round6 = (n: number) => Math.round(n * 1e6) / 1e6;
const usd = (n: number, digits = 4) => `$${n.toFixed(digits)}`;
const int = (n: number) => n.toLocaleString('en-US');

/** Chat cost per call is tiny: show enough digits that a day of a few calls is not "$0.0000". */
function cost(n: number): string {
  if (n === 0) return '$0';
  return n < 0.01 ? usd(n, 6) : usd(n, 4);
}

export function mergeDays(
  chat: ChatDay[],
  assetTrends: Array<{ date: string; daily_cost: number }>,
): UsageRow[] {
  const assets = new Map(assetTrends.map((t) => [t.date, Number(t.daily_cost) || 0]));
  return chat.map((d) => ({
    date: d.date,
    inputTokens: d.input_tokens,
    outputTokens: d.output_tokens,
    requests: d.requests,
    chatCost: d.cost,
    assetCost: assets.get(d.date) ?? 0,
  }));
}

interface Loaded {
  rows: UsageRow[];
  problems: string[];
}

async function load(ctx: WebContext, days: number): Promise<Loaded> {
  const problems: string[] = [];
  const chat = await ctx.apiJson<{ daily?: ChatDay[] }>(`/api/v1/chat/usage?days=${days}`);
  if (!chat.res.ok || !Array.isArray(chat.body?.daily)) {
    problems.push(detailOf(chat.body) || 'Chat usage is unavailable right now.');
    return { rows: [], problems };
  }
  const daily = chat.body.daily;
  const start = daily[0]?.date;
  const end = daily[daily.length - 1]?.date;
  let trends: Array<{ date: string; daily_cost: number }> = [];
  if (start && end) {
    const a = await ctx.apiJson<{ cost_trends?: Array<{ date: string; daily_cost: number }> }>(
      `/api/v0.2/assets/pricing/analytics?start_date=${start}&end_date=${end}`,
    );
    if (a.res.ok && Array.isArray(a.body?.cost_trends)) trends = a.body.cost_trends;
    // No asset service in this deployment is not an error worth a banner; anything else is.
    else if (a.res.status !== 404 && a.res.status !== 503)
      problems.push(detailOf(a.body) || 'Asset costs are unavailable right now.');
  }
  return { rows: mergeDays(daily, trends), problems };
}

function summary(rows: UsageRow[]): Html {
  const chat = round6(rows.reduce((s, r) => s + r.chatCost, 0));
  const assets = round6(rows.reduce((s, r) => s + r.assetCost, 0));
  const tokens = rows.reduce((s, r) => s + r.inputTokens + r.outputTokens, 0);
  const requests = rows.reduce((s, r) => s + r.requests, 0);
  const tile = (id: string, label: string, value: string) =>
    html`<div class="bg-slate-900/50 border border-slate-700 rounded-lg p-3"><p class="text-xs text-slate-400">${label}</p><p id="${id}" class="text-xl font-semibold text-white">${value}</p></div>`;
  return html`<div id="usage-summary" class="grid grid-cols-2 md:grid-cols-3 gap-4 mb-6">
${tile('usage-total-cost', 'Total spend', cost(round6(chat + assets)))}
${tile('usage-chat-cost', 'Chat', cost(chat))}
${tile('usage-asset-cost', 'Assets', cost(assets))}
${tile('usage-tokens', 'Chat tokens', int(tokens))}
${tile('usage-requests', 'Model calls', int(requests))}
</div>`;
}

function table(rows: UsageRow[]): Html {
  // Newest first: the question is usually "what did today cost".
  const newest = [...rows].reverse();
  return html`<div class="overflow-x-auto overflow-y-auto custom-scrollbar" style="max-height:26rem"><table id="usage-table" class="w-full text-sm text-left">
<thead class="text-xs text-slate-400 border-b border-slate-700"><tr><th class="py-2 pr-4">Day (UTC)</th><th class="py-2 pr-4 text-right">Tokens in</th><th class="py-2 pr-4 text-right">Tokens out</th><th class="py-2 pr-4 text-right">Calls</th><th class="py-2 pr-4 text-right">Chat</th><th class="py-2 text-right">Assets</th></tr></thead>
<tbody>
${newest.map((r) => {
  const idle = r.requests === 0 && r.assetCost === 0;
  return html`<tr class="border-b border-slate-700/50${idle ? ' opacity-60' : ''}" data-date="${r.date}">
<td class="py-2 pr-4 text-white font-mono" style="white-space:nowrap">${r.date}</td>
<td class="py-2 pr-4 text-right text-slate-300" data-col="input_tokens">${int(r.inputTokens)}</td>
<td class="py-2 pr-4 text-right text-slate-300" data-col="output_tokens">${int(r.outputTokens)}</td>
<td class="py-2 pr-4 text-right text-slate-300" data-col="requests">${int(r.requests)}</td>
<td class="py-2 pr-4 text-right text-slate-300" data-col="chat_cost" data-value="${String(r.chatCost)}">${cost(r.chatCost)}</td>
<td class="py-2 text-right text-slate-300" data-col="asset_cost" data-value="${String(r.assetCost)}">${cost(r.assetCost)}</td>
</tr>`;
})}
</tbody></table></div>`;
}

export function parseRange(raw: string | null): number {
  const n = Number(raw);
  return (RANGES as readonly number[]).includes(n) ? n : DEFAULT_RANGE;
}

export function usagePage(days: number, loaded: Loaded): Html {
  const { rows, problems } = loaded;
  const chartData = {
    dates: rows.map((r) => r.date),
    chat_cost: rows.map((r) => r.chatCost),
    asset_cost: rows.map((r) => r.assetCost),
    tokens: rows.map((r) => r.inputTokens + r.outputTokens),
  };
  const ranges = RANGES.map((d) =>
    d === days
      ? html`<span class="text-xs rounded-full px-3 py-1 bg-slate-700 text-white" aria-current="true">${d} days</span>`
      : html`<a class="text-xs rounded-full px-3 py-1 ${LINK}" href="/usage?days=${d}">${d} days</a>`,
  );
  return html`<link rel="stylesheet" href="/static/vendor/uPlot.min.css">
<div class="flex items-center justify-between flex-wrap gap-2 mb-2"><h1 class="text-3xl font-bold text-white">Usage</h1><nav class="flex items-center gap-2" aria-label="Range">${ranges}</nav></div>
<p class="text-slate-400 mb-6">What you spent each day (UTC) over the last ${days} days: chat from the model calls recorded for you, assets from your generations.</p>
${problems.map((p) => html`<div class="mb-4">${box('warning', p)}</div>`)}
${summary(rows)}
<div class="grid grid-cols-1 lg:grid-cols-2 gap-6">
<section class="${CARD}"><h2 class="text-xl font-semibold text-white mb-4">Daily spend</h2>
<div id="usage-chart" class="w-full text-slate-300" style="min-height:300px" data-usage="${JSON.stringify(chartData)}" role="img" aria-label="Daily spend on chat and assets, and chat tokens, over the last ${days} days"></div>
<p class="text-xs text-slate-400 mt-2">Bars: cost in USD (chat, assets). Line: chat tokens (right axis).</p></section>
<section class="${CARD}"><h2 class="text-xl font-semibold text-white mb-4">By day</h2>${table(rows)}</section>
</div>
<script src="/static/vendor/uPlot.iife.min.js" defer></script>
<script src="/static/js/usage.js" defer></script>`;
}

export function usageRoutes(kit: Kit) {
  const { config } = kit.s;
  return new Elysia({ name: 'gaia-web-usage' }).get(
    '/usage',
    kit.handler('page', async (ctx) => {
      const days = parseRange(ctx.url.searchParams.get('days'));
      const loaded = await load(ctx, days);
      return htmlAnswer(documentPage(pageLayout('usage', usagePage(days, loaded)), { debug: config.debug }));
    }),
  );
}
