/*
 * The usage chart: daily chat and asset cost as bars and chat tokens as a line, drawn with the vendored
 * uPlot from the figures the server put in #usage-chart's data-usage attribute (the CSP allows no inline
 * script). The table beside it carries the same figures.
 */
(() => {
  function draw() {
    const el = document.getElementById('usage-chart');
    if (!el || typeof window.uPlot !== 'function') return;
    let data;
    try {
      data = JSON.parse(el.dataset.usage || '{}');
    } catch {
      return;
    }
    const dates = Array.isArray(data.dates) ? data.dates : [];
    if (dates.length === 0) {
      el.textContent = 'No data for this range.';
      return;
    }
    const xs = dates.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
    const text = getComputedStyle(el).color || '#cbd5e1';
    const grid = 'rgba(148, 163, 184, 0.15)';
    const bars = (align) => window.uPlot.paths.bars({ size: [0.35, 40], align, gap: 1 });
    const axis = { stroke: text, grid: { stroke: grid }, ticks: { stroke: grid } };
    const money = (v) => (v == null ? '–' : `$${v < 0.01 && v > 0 ? v.toFixed(6) : v.toFixed(4)}`);
    const opts = {
      width: Math.max(280, el.clientWidth),
      height: 300,
      tzDate: (ts) => window.uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      scales: { x: { time: true }, usd: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      legend: { live: true },
      series: [
        { value: (_u, v) => (v == null ? '' : new Date(v * 1000).toISOString().slice(0, 10)) },
        {
          label: 'Chat',
          scale: 'usd',
          fill: 'rgba(168, 85, 247, 0.75)',
          stroke: '#a855f7',
          paths: bars(-1),
          points: { show: false },
          value: (_u, v) => money(v),
        },
        {
          label: 'Assets',
          scale: 'usd',
          fill: 'rgba(236, 72, 153, 0.75)',
          stroke: '#ec4899',
          paths: bars(1),
          points: { show: false },
          value: (_u, v) => money(v),
        },
        {
          label: 'Tokens',
          scale: 'tokens',
          stroke: '#60a5fa',
          width: 2,
          value: (_u, v) => (v == null ? '' : Math.round(v).toLocaleString('en-US')),
        },
      ],
      axes: [
        axis,
        {
          ...axis,
          scale: 'usd',
          size: 70,
          values: (_u, ticks) => ticks.map((v) => `$${v.toFixed(v < 0.01 ? 4 : 2)}`),
        },
        { ...axis, scale: 'tokens', side: 1, grid: { show: false }, size: 60 },
      ],
    };
    el.textContent = '';
    const chart = new window.uPlot(opts, [xs, data.chat_cost, data.asset_cost, data.tokens], el);
    el.dataset.drawn = 'true';
    let pending = 0;
    window.addEventListener('resize', () => {
      cancelAnimationFrame(pending);
      pending = requestAnimationFrame(() =>
        chart.setSize({ width: Math.max(280, el.clientWidth), height: 300 }),
      );
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', draw);
  else draw();
})();
