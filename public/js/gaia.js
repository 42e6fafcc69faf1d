/*
 * Gaia web UI behaviour. The CSP forbids inline scripts and hx-on, so every
 * reaction to the server lives here: toasts, streaming replies, the mobile sidebar, menus and small
 * conveniences. No token ever reaches this file: the session cookie is HttpOnly and the server makes every
 * authenticated call itself.
 */
(() => {
  const body = () => document.body;
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const debug = (...args) => {
    if (body()?.dataset.debug === 'true') console.debug('[gaia]', ...args);
  };

  /* ---------- toasts ---------- */

  const TOAST = {
    success: { icon: '✅', cls: 'from-green-600 to-green-700', ms: 3000 },
    error: { icon: '❌', cls: 'from-red-600 to-red-700', ms: 5000 },
    warning: { icon: '⚠️', cls: 'from-yellow-600 to-yellow-700', ms: 4000 },
    info: { icon: 'ℹ️', cls: 'from-purple-600 to-purple-700', ms: 3000 },
  };

  function showToast(message, variant, ms) {
    const container = $('#toast-container');
    if (!container || !message) return;
    const kind = TOAST[variant] ? variant : 'info';
    const t = TOAST[kind];
    const el = document.createElement('div');
    el.className = `toast animate-toastIn bg-gradient-to-r ${t.cls} text-white rounded-lg shadow-xl px-4 py-3 flex items-start space-x-3`;
    el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    el.dataset.variant = kind;
    const icon = document.createElement('span');
    icon.textContent = t.icon;
    icon.setAttribute('aria-hidden', 'true');
    const text = document.createElement('span');
    text.className = 'flex-1 text-sm';
    text.textContent = message;
    const close = document.createElement('button');
    close.type = 'button';
    close.className =
      'bg-transparent text-white opacity-80 hover:opacity-100 rounded-md px-1 py-0 leading-none';
    close.setAttribute('aria-label', 'Dismiss');
    close.textContent = '×';
    const remove = () => {
      el.classList.add('toast-leaving');
      setTimeout(() => el.remove(), 200);
    };
    close.addEventListener('click', remove);
    el.append(icon, text, close);
    container.append(el);
    setTimeout(remove, ms || t.ms);
  }
  window.GaiaToast = { show: showToast };

  /* ---------- small helpers ---------- */

  function localTimes(root) {
    for (const t of $$('time[datetime]', root)) {
      const d = new Date(t.getAttribute('datetime'));
      if (!Number.isNaN(d.getTime())) t.textContent = clock(d);
    }
  }

  function clock(d) {
    return d.toLocaleTimeString('en-US', { hour: 'numeric', minute: '2-digit' });
  }

  function messagesEl() {
    return $('#messages');
  }

  function nearBottom(el) {
    return el.scrollHeight - el.scrollTop - el.clientHeight < 80;
  }

  function scrollToBottom() {
    const m = messagesEl();
    if (m) m.scrollTop = m.scrollHeight;
  }

  function focusInput() {
    const input = $('#chat-message-input');
    // On touch screens focusing would pop the keyboard up over the reply.
    if (input && !input.disabled && !window.matchMedia('(pointer: coarse)').matches) input.focus();
  }

  const ITEM_ACTIVE = [
    'bg-gradient-to-r',
    'from-purple-600/30',
    'to-pink-600/30',
    'border-l-4',
    'border-purple-500',
    'shadow-lg',
  ];
  const ITEM_IDLE = ['hover:bg-slate-700/50', 'hover:shadow-md'];

  /** Marks the open conversation in the sidebar (also after list refreshes). */
  function highlightActive() {
    const view = $('#chat-view');
    const id = view ? view.dataset.conversationId : '';
    for (const item of $$('#conversation-list .conversation-item')) {
      const active = !!id && item.dataset.conversationId === id;
      item.classList.remove(...(active ? ITEM_IDLE : ITEM_ACTIVE));
      item.classList.add(...(active ? ITEM_ACTIVE : ITEM_IDLE));
      const link = $('a', item);
      if (link) {
        if (active) link.setAttribute('aria-current', 'page');
        else link.removeAttribute('aria-current');
      }
    }
  }

  /* ---------- streaming replies ---------- */

  const streams = new Set();
  const AI_ROW = 'flex justify-start mb-4';
  const AI_BUBBLE =
    'bg-slate-700 text-white rounded-2xl rounded-bl-sm px-4 py-3 max-w-[80%] shadow-lg animate-slideInLeft';
  const ERROR_BUBBLE =
    'bg-red-500/20 border border-red-500/40 text-red-200 rounded-2xl rounded-bl-sm px-4 py-3 max-w-[80%] shadow-lg animate-slideInLeft';
  const WARN_BUBBLE =
    'bg-yellow-500/20 border border-yellow-500/40 text-yellow-200 rounded-2xl rounded-bl-sm px-4 py-3 max-w-[80%] shadow-lg';

  function sendButton() {
    return $('#chat-send-button');
  }

  /** While a reply streams, Send waits and Stop shows. */
  function setSending(on) {
    const b = sendButton();
    const stop = $('#chat-stop-button');
    if (!b) return;
    if (on) {
      b.disabled = true;
      b.setAttribute('data-streaming', 'true');
      stop?.classList.remove('hidden');
    } else if (streams.size === 0) {
      b.disabled = false;
      b.removeAttribute('data-streaming');
      stop?.classList.add('hidden');
    }
  }

  function errorRow(text, retry) {
    const row = document.createElement('div');
    row.className = AI_ROW;
    row.dataset.role = 'error';
    const bubble = document.createElement('div');
    bubble.className = ERROR_BUBBLE;
    bubble.setAttribute('role', 'alert');
    const span = document.createElement('span');
    span.textContent = text;
    bubble.append(span);
    if (retry) {
      const again = document.createElement('button');
      again.type = 'button';
      again.className = 'chat-retry';
      again.textContent = 'Retry';
      again.addEventListener('click', () => {
        if (streams.size > 0) return;
        row.remove();
        retry();
      });
      bubble.append(' ', again);
    }
    row.append(bubble);
    return row;
  }

  /** A new reply to `message` in the same place, after a failed one. */
  function retryStream(url, conversationId, message, turn) {
    const view = $('#chat-view');
    const cid = view?.dataset.conversationId || conversationId;
    const el = document.createElement('div');
    el.id = `loading-${turn}r${Date.now().toString(36)}`;
    el.className = AI_ROW;
    el.dataset.role = 'assistant';
    el.dataset.gaiaStream = url;
    el.dataset.conversationId = cid;
    el.dataset.turn = el.id.slice(8);
    el.dataset.message = message;
    const bubble = document.createElement('div');
    bubble.className = AI_BUBBLE;
    bubble.textContent = 'Gaia is thinking...';
    el.append(bubble);
    messagesEl()?.append(el);
    startStream(el);
  }

  function stoppedMark() {
    const mark = document.createElement('div');
    mark.className = 'reply-stopped text-xs text-slate-400 italic mt-1';
    mark.dataset.stopped = 'true';
    mark.textContent = 'Stopped';
    return mark;
  }

  function startStream(placeholder) {
    const url = placeholder.dataset.gaiaStream;
    // Never twice: a history snapshot must not restart a finished stream.
    placeholder.removeAttribute('data-gaia-stream');
    const turn = placeholder.dataset.turn || '';
    const conversationId = placeholder.dataset.conversationId || '';
    const message = placeholder.dataset.message || '';
    placeholder.removeAttribute('data-message');
    const view = $('#chat-view');
    if (view && conversationId) view.dataset.conversationId = conversationId;
    highlightActive();

    const timeoutS = Number(body().dataset.streamTimeout || '120');
    const ctrl = new AbortController();
    const state = { ctrl, cancelled: false, stopped: false };
    streams.add(state);
    setSending(true);

    let persona = 'Gaia';
    let text = '';
    let rendered = false;
    let responseRow = null;
    let bubbleEl = null;
    let contentEl = null;
    let toolsHtml = '';
    let ended = false;
    let failed = false;
    let slowTimer = null;
    let deadTimer = null;

    const clearTimers = () => {
      clearTimeout(slowTimer);
      clearTimeout(deadTimer);
    };
    const armTimers = () => {
      clearTimers();
      slowTimer = setTimeout(() => {
        if (responseRow || !placeholder.isConnected) return;
        const bubble = placeholder.firstElementChild;
        if (!bubble) return;
        bubble.className = WARN_BUBBLE;
        bubble.textContent = '⚠️ Response is taking longer than expected...';
      }, 30_000);
      deadTimer = setTimeout(() => {
        fail('❌ The response timed out. Please try again.');
        ctrl.abort();
      }, timeoutS * 1000);
    };

    const anchor = () => responseRow || placeholder;

    const fail = (msg) => {
      if (ended || failed) return;
      failed = true;
      const row = errorRow(msg, () => retryStream(url, conversationId, message, turn));
      const at = anchor();
      if (!responseRow && placeholder.isConnected) placeholder.replaceWith(row);
      else if (at.isConnected) at.after(row);
      else messagesEl()?.append(row);
      scrollToBottom();
    };

    const finish = () => {
      if (ended) return;
      ended = true;
      clearTimers();
      streams.delete(state);
      setSending(false);
      if (state.stopped) {
        // What was written stays, marked; chat keeps it as a partial reply.
        ensureRow();
        bubbleEl.insertBefore(stoppedMark(), bubbleEl.lastElementChild);
        responseRow.dataset.status = 'partial';
      } else if (placeholder.isConnected && !responseRow && !failed) placeholder.remove();
      if (state.cancelled && !state.stopped) return;
      htmx.trigger(body(), 'gaia:conversations-changed');
      focusInput();
    };

    const ensureRow = () => {
      if (!responseRow) {
        responseRow = document.createElement('div');
        responseRow.id = `response-${turn}`;
        responseRow.className = AI_ROW;
        responseRow.dataset.role = 'assistant';
        bubbleEl = document.createElement('div');
        bubbleEl.className = AI_BUBBLE;
        contentEl = document.createElement('div');
        contentEl.id = `response-content-${turn}`;
        contentEl.className = 'chat-markdown break-words';
        const footer = document.createElement('div');
        footer.className = 'text-xs opacity-70 mt-1';
        footer.textContent = `${persona} · ${clock(new Date())}`;
        bubbleEl.append(contentEl, footer);
        responseRow.append(bubbleEl);
        if (placeholder.isConnected) placeholder.replaceWith(responseRow);
        else messagesEl()?.append(responseRow);
      }
    };

    /** Keeps the view at the bottom while the reader is there, without yanking one who scrolled up. */
    const follow = (fn) => {
      const m = messagesEl();
      const stay = m ? nearBottom(m) : false;
      fn();
      if (stay) scrollToBottom();
    };

    const onContent = (chunk) => {
      text += chunk;
      follow(() => {
        ensureRow();
        // Until the first rendered HTML arrives (it follows at once), the text shows as it is.
        if (!rendered) contentEl.textContent = text;
      });
    };

    // The server renders the Markdown with the same sanitizer as stored replies; the page only swaps it in.
    const onRender = (html) => {
      follow(() => {
        ensureRow();
        rendered = true;
        contentEl.innerHTML = html;
      });
      if (window.performance?.mark) performance.mark(`gaia:rendered:${turn}`);
    };

    const onTools = (html) => {
      if (html === toolsHtml) return;
      toolsHtml = html;
      follow(() => {
        ensureRow();
        const open = $('.tool-activity', bubbleEl)?.open;
        $('.tool-activity', bubbleEl)?.remove();
        const holder = document.createElement('div');
        holder.innerHTML = html;
        const block = holder.firstElementChild;
        if (!block) return;
        if (open) block.open = true;
        bubbleEl.insertBefore(block, contentEl);
      });
    };

    const handle = (payload) => {
      if (payload === '[DONE]') {
        finish();
        return;
      }
      let ev;
      try {
        ev = JSON.parse(payload);
      } catch {
        return;
      }
      if (ev.type === 'metadata') {
        if (ev.persona) persona = ev.persona;
        if (ev.conversation_id && view?.isConnected && !view.dataset.conversationId)
          view.dataset.conversationId = ev.conversation_id;
      } else if (ev.type === 'content') {
        armTimers();
        onContent(ev.content || '');
      } else if (ev.type === 'render') {
        if (typeof ev.html === 'string') onRender(ev.html);
      } else if (ev.type === 'tools') {
        armTimers();
        if (typeof ev.html === 'string') onTools(ev.html);
      } else if (ev.type === 'error') {
        fail(`❌ Error: ${ev.error || 'Something went wrong.'}`);
      }
    };

    armTimers();
    fetch(url, {
      method: 'POST',
      body: new URLSearchParams({ message, conversation_id: conversationId, turn }),
      headers: { Accept: 'text/event-stream' },
      credentials: 'same-origin',
      signal: ctrl.signal,
    })
      .then(async (res) => {
        if (res.status === 401) {
          window.location.href = '/login';
          return;
        }
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += decoder.decode(value, { stream: true }).replace(/\r\n/g, '\n');
          let cut = buf.indexOf('\n\n');
          while (cut >= 0) {
            const block = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            const data = block
              .split('\n')
              .filter((l) => l.startsWith('data:'))
              .map((l) => l.slice(l.startsWith('data: ') ? 6 : 5))
              .join('\n');
            if (data) handle(data);
            cut = buf.indexOf('\n\n');
          }
        }
        if (!ended) {
          fail(text ? '❌ Error: The reply was interrupted.' : '❌ Connection error. Please try again.');
          finish();
        }
      })
      .catch((err) => {
        debug('stream ended', err);
        if (!state.cancelled && !state.stopped)
          fail(text ? '❌ Error: The reply was interrupted.' : '❌ Connection error. Please try again.');
        finish();
      });
    debug('stream started', turn);
    return state;
  }

  /** The Stop button: the reply ends where it is; chat keeps what was written. */
  function stopStreams() {
    for (const s of Array.from(streams)) {
      s.stopped = true;
      s.ctrl.abort();
    }
  }

  /** Switching conversation or leaving mid-reply: chat keeps the partial answer. */
  function cancelStreams() {
    for (const s of Array.from(streams)) {
      s.cancelled = true;
      s.ctrl.abort();
    }
  }

  /* ---------- mobile sidebar and menus ---------- */

  const MD = window.matchMedia('(min-width: 768px)');

  function sidebarOpen() {
    const sb = $('#sidebar');
    return !!sb && sb.classList.contains('is-open');
  }

  function setSidebar(open) {
    const sb = $('#sidebar');
    const overlay = $('#sidebar-overlay');
    const toggle = $('#sidebar-toggle');
    if (!sb) return;
    sb.classList.toggle('is-open', open);
    sb.classList.toggle('-translate-x-full', !open);
    sb.classList.toggle('translate-x-0', open);
    overlay?.classList.toggle('hidden', !open);
    if (toggle) {
      toggle.classList.toggle('is-open', open);
      toggle.setAttribute('aria-expanded', String(open));
      toggle.setAttribute('aria-label', open ? 'Close sidebar' : 'Open sidebar');
    }
    body().classList.toggle('overflow-hidden', open);
  }

  function setUserMenu(open) {
    const menu = $('#user-menu');
    const btn = $('#user-menu-button');
    if (!menu) return;
    menu.classList.toggle('hidden', !open);
    btn?.setAttribute('aria-expanded', String(open));
  }

  function resetForWidth() {
    if (MD.matches) {
      setSidebar(false);
      setUserMenu(false);
      const links = $('#page-nav-links');
      if (links) links.classList.add('hidden');
    }
  }

  document.addEventListener('click', (e) => {
    const target = e.target instanceof Element ? e.target : null;
    if (!target) return;
    if (target.closest('#sidebar-toggle')) {
      setSidebar(!sidebarOpen());
      return;
    }
    if (target.closest('#sidebar-close') || target.closest('#sidebar-overlay')) {
      setSidebar(false);
      return;
    }
    if (target.closest('#conversation-list a') && !MD.matches) setSidebar(false);
    if (target.closest('#user-menu-button')) {
      setUserMenu($('#user-menu')?.classList.contains('hidden'));
      return;
    }
    if (!target.closest('#user-menu')) setUserMenu(false);
    const navToggle = target.closest('#page-nav-toggle');
    if (navToggle) {
      const links = $('#page-nav-links');
      const open = links?.classList.contains('hidden');
      links?.classList.toggle('hidden', !open);
      navToggle.setAttribute('aria-expanded', String(!!open));
      return;
    }
    if (target.closest('#theme-toggle')) {
      window.GaiaTheme?.toggle();
      return;
    }
    if (target.closest('#chat-stop-button')) {
      stopStreams();
      return;
    }
    const codeCopy = target.closest('[data-copy-code]');
    if (codeCopy) {
      copyCode(codeCopy);
      return;
    }
    const copy = target.closest('[data-copy-target]');
    if (copy) copyText($(copy.getAttribute('data-copy-target'))?.textContent || '');
  });

  MD.addEventListener('change', resetForWidth);

  let touchStart = null;
  document.addEventListener(
    'touchstart',
    (e) => {
      const t = e.touches[0];
      touchStart = t ? { x: t.clientX, y: t.clientY } : null;
    },
    { passive: true },
  );
  document.addEventListener(
    'touchend',
    (e) => {
      const t = e.changedTouches[0];
      if (!touchStart || !t || MD.matches || !$('#sidebar')) return;
      const dx = t.clientX - touchStart.x;
      const dy = t.clientY - touchStart.y;
      if (Math.abs(dx) > 50 && Math.abs(dx) > Math.abs(dy)) {
        if (dx > 0 && touchStart.x < 20 && !sidebarOpen()) setSidebar(true);
        else if (dx < 0 && sidebarOpen()) setSidebar(false);
      }
      touchStart = null;
    },
    { passive: true },
  );

  function copyText(text) {
    if (!text) return;
    const done = () => showToast('Copied to clipboard', 'success', 2000);
    if (navigator.clipboard?.writeText) {
      navigator.clipboard
        .writeText(text)
        .then(done, () => showToast('Copy failed: select the key and copy it.', 'warning'));
      return;
    }
    showToast('Select the key and copy it.', 'info');
  }

  /** A code block's Copy button says "Copied" for a moment; no toast. */
  function copyCode(button) {
    const code = button.closest('.code-block')?.querySelector('code');
    if (!code || !navigator.clipboard?.writeText) return;
    navigator.clipboard.writeText(code.textContent || '').then(
      () => {
        button.textContent = 'Copied';
        setTimeout(() => {
          button.textContent = 'Copy';
        }, 1500);
      },
      () => {
        button.textContent = 'Select and copy';
      },
    );
  }

  /* ---------- composer: a growing textarea, Enter sends ---------- */

  const COMPOSER_MAX_PX = 240;

  function growComposer(el) {
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, COMPOSER_MAX_PX)}px`;
    el.style.overflowY = el.scrollHeight > COMPOSER_MAX_PX ? 'auto' : 'hidden';
  }

  document.addEventListener('input', (e) => {
    const t = e.target;
    if (t instanceof HTMLTextAreaElement && t.id === 'chat-message-input') growComposer(t);
  });

  document.addEventListener('keydown', (e) => {
    const t = e.target;
    if (!(t instanceof HTMLTextAreaElement) || t.id !== 'chat-message-input') return;
    // Shift+Enter breaks the line; Enter while an input method composes a word belongs to it.
    if (e.key !== 'Enter' || e.shiftKey || e.isComposing || e.keyCode === 229) return;
    e.preventDefault();
    if (streams.size > 0 || !t.value.trim()) return;
    t.form?.requestSubmit();
  });

  /* ---------- forms swapped in moments ago ---------- */

  // htmx binds a swapped-in form only when the swap settles (200 ms on the chat pages, longer on a busy
  // device). Submitted before that, the browser would send it itself: a GET to the page's own URL with the
  // message in the query string. Runs after the form's own listeners, so a form htmx already handled has its
  // default prevented; any other htmx form is bound now and sent the htmx way.
  const resending = new WeakSet();
  document.addEventListener('submit', (e) => {
    const form = e.target;
    if (e.defaultPrevented || !(form instanceof HTMLFormElement) || resending.has(form)) return;
    if (!form.matches('[hx-post],[hx-get],[hx-put],[hx-patch],[hx-delete]')) return;
    e.preventDefault();
    htmx.process(form);
    resending.add(form);
    try {
      htmx.trigger(form, 'submit');
    } finally {
      resending.delete(form);
    }
  });

  /* ---------- search ---------- */

  document.addEventListener('keydown', (e) => {
    const t = e.target;
    if (e.key === 'Escape' && t instanceof HTMLInputElement && t.id === 'search-input') {
      t.value = '';
      htmx.trigger(t, 'search');
    }
    if (e.key === 'Escape') {
      setUserMenu(false);
      if (sidebarOpen()) setSidebar(false);
    }
  });

  /* ---------- htmx wiring ---------- */

  function onLoaded(root) {
    localTimes(root);
    if (root instanceof Element) {
      const streamsHere = root.matches('[data-gaia-stream]') ? [root] : $$('[data-gaia-stream]', root);
      for (const el of streamsHere) startStream(el);
    }
  }

  document.addEventListener('htmx:load', (e) => onLoaded(e.target));

  document.addEventListener('htmx:beforeRequest', (e) => {
    const d = e.detail;
    const target = d?.target;
    // A new view is about to replace the chat: stop the reply being written.
    if (target && target.id === 'main-content') cancelStreams();
  });

  // An out-of-band delete of something already gone (the welcome after the first message) is not an
  // error worth htmx's console.error: drop it before htmx looks for its target.
  document.addEventListener('htmx:beforeSwap', (e) => {
    const d = e.detail;
    if (!d || typeof d.serverResponse !== 'string' || !d.serverResponse.includes('hx-swap-oob="delete"'))
      return;
    d.serverResponse = d.serverResponse.replace(
      /<(\w+) id="([^"]+)" hx-swap-oob="delete"><\/\1>/g,
      (whole, _tag, id) => (document.getElementById(id) ? whole : ''),
    );
  });

  document.addEventListener('htmx:afterRequest', (e) => {
    const elt = e.detail?.elt;
    if (!(elt instanceof HTMLFormElement)) return;
    if (elt.id === 'chat-form' && e.detail.successful) {
      const xhr = e.detail.xhr;
      if (xhr && /data-role="user"/.test(xhr.responseText || '')) {
        const input = $('#chat-message-input');
        if (input) {
          input.value = '';
          growComposer(input);
        }
        scrollToBottom();
        focusInput();
      }
      if (streams.size > 0) setSending(true);
    }
  });

  document.addEventListener('htmx:afterSettle', (e) => {
    const target = e.detail?.target;
    highlightActive();
    if (target && (target.id === 'main-content' || target.id === 'chat-view')) {
      scrollToBottom();
      focusInput();
    }
  });

  document.addEventListener('htmx:oobAfterSwap', () => highlightActive());

  document.addEventListener('htmx:historyRestore', () => {
    cancelStreams();
    setSidebar(false);
    localTimes(document);
    highlightActive();
    scrollToBottom();
  });

  document.addEventListener('gaia:toast', (e) => {
    const d = e.detail || {};
    showToast(d.message, d.variant, d.ms);
  });

  document.addEventListener('gaia:persona-created', () => {
    $('#persona-form')?.reset();
  });

  document.addEventListener('gaia:api-key-created', () => {
    $('#api-key-form')?.reset();
  });

  const STATUS_TOASTS = {
    0: 'Connection lost. Please check your internet connection.',
    400: 'Invalid request.',
    403: 'Access denied.',
    404: 'Not found.',
    429: 'Too many requests. Please slow down.',
  };

  document.addEventListener('htmx:responseError', (e) => {
    const xhr = e.detail?.xhr;
    if (!xhr) return;
    if (xhr.status === 401) {
      window.location.href = '/login';
      return;
    }
    if (/gaia:toast/.test(xhr.getResponseHeader('HX-Trigger') || '')) return;
    const msg = STATUS_TOASTS[xhr.status] || (xhr.status >= 500 ? 'Server error. Please try again.' : null);
    if (msg) showToast(msg, 'error');
  });

  document.addEventListener('htmx:sendError', () => showToast(STATUS_TOASTS[0], 'error'));
  document.addEventListener('htmx:timeout', () =>
    showToast('The request timed out. Please try again.', 'error'),
  );

  window.addEventListener('pagehide', cancelStreams);

  /* ---------- email confirmation result in the URL fragment ---------- */

  function handleConfirmFragment() {
    if (!$('[data-gaia-confirm]')) return;
    const status = $('#confirm-status');
    const params = new URLSearchParams(window.location.hash.slice(1));
    if (params.get('error_description')) {
      if (status) status.textContent = params.get('error_description');
      return;
    }
    if (params.get('type') === 'signup') {
      // The fragment's tokens are never read or kept: only the outcome matters.
      window.location.replace('/login?verified=true');
      return;
    }
    if (status) status.textContent = 'Confirmation link is expired or invalid.';
  }

  function init() {
    onLoaded(document);
    highlightActive();
    scrollToBottom();
    handleConfirmFragment();
    debug('ready');
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
