// SVG files imported `with { type: 'text' }` are their source text (embedded by `bun build --compile`).
declare module '*.svg' {
  const text: string;
  export default text;
}
