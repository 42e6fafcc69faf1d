/*
 * The colour theme, applied before the page is painted (this file loads without `defer`, so a reader who
 * chose light never sees a dark flash). Without a choice kept in this browser the page follows the
 * system's colour scheme through CSS alone; the toggle stores "light" or "dark" and sets
 * <html data-theme>. gaia.js wires the toggle button.
 */
(() => {
  const KEY = 'gaia-theme';
  const root = document.documentElement;
  const media = window.matchMedia('(prefers-color-scheme: light)');
  // Where the choice lives when storage is refused (private modes): this page only.
  let memory = null;

  function stored() {
    try {
      const v = window.localStorage.getItem(KEY);
      return v === 'light' || v === 'dark' ? v : null;
    } catch {
      return memory;
    }
  }

  function current() {
    return stored() || (media.matches ? 'light' : 'dark');
  }

  function apply() {
    const chosen = stored();
    if (chosen) root.dataset.theme = chosen;
    else delete root.dataset.theme;
    root.dataset.themeEffective = current();
    for (const b of document.querySelectorAll('#theme-toggle')) {
      const next = current() === 'light' ? 'dark' : 'light';
      b.setAttribute('aria-label', `Switch to ${next} theme`);
      b.setAttribute('aria-pressed', String(current() === 'light'));
    }
  }

  function toggle() {
    const next = current() === 'light' ? 'dark' : 'light';
    try {
      window.localStorage.setItem(KEY, next);
    } catch {
      memory = next;
    }
    apply();
  }

  media.addEventListener('change', apply);
  window.GaiaTheme = { current, toggle, apply };
  apply();
  document.addEventListener('DOMContentLoaded', apply);
})();
