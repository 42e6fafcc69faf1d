/**
 * Prompt enhancement: the client's description, followed by a phrase for its style, a hint for the kind of 3D
 * model, or the seamless-surface hint for textures, then cut to what the provider accepts.
 */
import type { AssetRequest, Category } from '../types.ts';

/** Phrases for the styles clients commonly send; the key is the style lower-cased with spaces/hyphens as `_`. */
export const STYLE_PHRASES: Readonly<Record<string, string>> = {
  realistic: 'photorealistic, highly detailed, natural lighting',
  cartoon: 'cartoon style, bold outlines, bright flat colours',
  artistic: 'artistic, painterly, expressive brushwork',
  sci_fi: 'science fiction, futuristic technology, sleek metallic surfaces',
  fantasy: 'fantasy art, magical atmosphere, rich ornate detail',
  minimalist: 'minimalist, clean lines, simple shapes, limited palette',
  vintage: 'vintage style, retro colour grading, aged look',
  low_poly: 'low poly, flat shaded, clean geometric facets',
  stylized: 'stylized, exaggerated proportions, hand-painted look',
};

/** What a 3D generator needs to hear to give a usable game asset of that kind. */
export const CATEGORY_HINTS: Readonly<Partial<Record<Category, string>>> = {
  character: 'single character, full body, neutral pose, game-ready 3D model',
  prop: 'single standalone object, centred, game-ready 3D model',
  environment: 'environment scene, cohesive layout, game-ready 3D model',
};

/** Textures are laid side by side on surfaces: seams, shading and perspective would all show. */
export const TEXTURE_HINT =
  'seamless tileable texture, evenly lit, flat top-down view, no shadows or perspective';

export function styleKey(style: string): string {
  return style
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');
}

/**
 * Builds the provider prompt. Known styles become their phrase; others (and every audio style, a
 * `"<genre>-<mood>"` pair that reads fine as is) are appended as written.
 */
export function enhancePrompt(req: AssetRequest, maxChars: number): { prompt: string; warnings: string[] } {
  const parts = [req.description.trim()];
  const style = req.style.trim();
  const phrase = req.category === 'audio' ? undefined : STYLE_PHRASES[styleKey(style)];
  if (phrase) parts.push(phrase);
  else if (style !== '') parts.push(style);
  const hint = req.category === 'texture' ? TEXTURE_HINT : CATEGORY_HINTS[req.category];
  if (hint) parts.push(hint);
  const full = parts.join(', ');

  const warnings: string[] = [];
  const prompt = cutAtWord(full, maxChars);
  if (prompt !== full)
    warnings.push(
      `Prompt shortened from ${[...full].length} to ${[...prompt].length} characters to fit the provider's limit of ${maxChars}`,
    );
  return { prompt, warnings };
}

/**
 * Cuts `text` to at most `max` characters (code points, so no emoji is split), at the last word boundary that
 * keeps a reasonable part of it; a single overlong word is cut where it must be. Trailing separators go too.
 */
export function cutAtWord(text: string, max: number): string {
  const chars = [...text];
  if (chars.length <= max) return text;
  if (max <= 0) return '';
  const head = chars.slice(0, max);
  // The character just past the cut tells whether the cut already falls between words.
  const nextIsSpace = /\s/u.test(chars[max]!);
  let end = head.length;
  if (!nextIsSpace) {
    let i = head.length - 1;
    while (i > 0 && !/\s/u.test(head[i]!)) i--;
    // Going back more than half the limit to find a space would throw away too much: cut mid-word instead.
    if (i > 0 && i >= max / 2) end = i;
  }
  return head
    .slice(0, end)
    .join('')
    .replace(/[\s,;:–—-]+$/u, '');
}
