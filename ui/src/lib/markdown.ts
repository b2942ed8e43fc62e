// Markdown to HTML for agent text. Raw HTML in the source is shown as text and only
// http(s), mailto and relative links are kept: agent output is not trusted.
import { Marked, type Tokens } from "marked";

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

const safeUrl = (u: string) => /^(https?:|mailto:|\/|#|\.)/i.test(u.trim()) || !/^[a-z][a-z0-9+.-]*:/i.test(u.trim());

const md = new Marked({ gfm: true, breaks: false, async: false });
md.use({
  renderer: {
    html(t: Tokens.HTML | Tokens.Tag) {
      return esc(t.text);
    },
    link(this: { parser: { parseInline: (t: Tokens.Generic[]) => string } }, t: Tokens.Link) {
      const text = this.parser.parseInline(t.tokens);
      if (!safeUrl(t.href)) return text;
      const title = t.title ? ` title="${esc(t.title)}"` : "";
      return `<a href="${esc(t.href)}"${title} target="_blank" rel="noopener noreferrer">${text}</a>`;
    },
    image(t: Tokens.Image) {
      return esc(t.text || t.href);
    },
  },
});

const cache = new Map<string, string>();

/** The HTML of `src`, cached (long conversations re-render often). */
export function renderMarkdown(src: string): string {
  let html = cache.get(src);
  if (html === undefined) {
    html = md.parse(src) as string;
    if (cache.size > 2000) cache.clear();
    cache.set(src, html);
  }
  return html;
}
