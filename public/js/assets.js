/*
 * Assets studio behaviour: copying an asset's signed link, and keeping the vendored 3D viewer on this
 * origin. Everything else on the page (the live estimate, job polling, the gallery) is htmx markup.
 */
(() => {
  // The viewer would fetch its Draco/KTX2/meshopt decoders from a CDN when a model needs one. Point those
  // at this site instead, so such a model fails to preview here rather than reaching another origin.
  if (window.customElements) {
    customElements.whenDefined('model-viewer').then(() => {
      const MV = customElements.get('model-viewer');
      if (!MV) return;
      MV.dracoDecoderLocation = '/static/vendor/draco/';
      MV.ktx2TranscoderLocation = '/static/vendor/basis/';
    });
  }

  function flash(button, text) {
    const before = button.textContent;
    button.textContent = text;
    setTimeout(() => {
      button.textContent = before;
    }, 1500);
  }

  document.addEventListener('click', (e) => {
    const t = e.target instanceof Element ? e.target.closest('[data-asset-copy]') : null;
    if (!t) return;
    const link = t.getAttribute('data-asset-copy') || '';
    if (!navigator.clipboard?.writeText) {
      window.prompt('Copy this link:', link);
      return;
    }
    navigator.clipboard.writeText(link).then(
      () => flash(t, 'Copied'),
      () => window.prompt('Copy this link:', link),
    );
  });

  // A model the viewer cannot show says so in its card instead of staying blank.
  document.addEventListener(
    'error',
    (e) => {
      const mv = e.target;
      if (!(mv instanceof Element) || mv.tagName !== 'MODEL-VIEWER') return;
      const card = mv.closest('.asset-card');
      if (!card || card.querySelector('.asset-model-error')) return;
      const p = document.createElement('p');
      p.className = 'asset-model-error text-xs text-yellow-200 mt-1';
      p.textContent = 'The 3D preview could not be shown; the file can still be downloaded.';
      mv.after(p);
    },
    true,
  );
})();
