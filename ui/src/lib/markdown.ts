// Markdown to HTML for agent text, which is not trusted. marked renders it, showing raw
// HTML in the source as text (agents write tags mostly when talking about code) and
// images as their alt text; then DOMPurify keeps only the plain formatting marked makes,
// whatever marked let through: no script, style, frames, forms, SVG or event handlers,
// and links only to http(s), mailto or relative addresses, opened in a new tab.
import DOMPurify from "dompurify";
import { Marked, type Tokens } from "marked";

/** The elements marked writes for GFM; everything else is dropped (its text kept). */
const TAGS = [
  "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "code", "pre",
  "blockquote", "ul", "ol", "li", "input", "a", "table", "thead", "tbody", "tr", "th", "td",
];
/** Their attributes worth keeping. `target` and `rel` of links are set below, not kept. */
const ATTRS = ["href", "title", "start", "align", "type", "checked", "disabled"];
/** http(s), mailto, or no scheme at all (relative, `#`, `/`). */
const URLS = /^(?:https?:|mailto:|[^a-z]|[a-z+.-]+(?:[^a-z+.\-:]|$))/i;

/** Our own instance, so its hook changes no other user of DOMPurify. */
const purify = DOMPurify();
purify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.hasAttribute("href")) {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
  // GFM task lists are the only inputs: read-only checkboxes.
  if (node.tagName === "INPUT") {
    if (node.getAttribute("type") !== "checkbox") node.remove();
    else node.setAttribute("disabled", "");
  }
});

/** `html` with only the elements, attributes and links agent text may carry. */
export function sanitize(html: string): string {
  if (!purify.isSupported) throw new Error("no DOM to sanitize agent text with");
  return purify.sanitize(html, {
    ALLOWED_TAGS: TAGS,
    ALLOWED_ATTR: ATTRS,
    ALLOWED_URI_REGEXP: URLS,
    ALLOW_DATA_ATTR: false,
    ALLOW_ARIA_ATTR: false,
  });
}

const md = new Marked({ gfm: true, breaks: false, async: false });
md.use({
  renderer: {
    html(t: Tokens.HTML | Tokens.Tag) {
      return this.text({ type: "text", raw: t.raw, text: t.text, escaped: false });
    },
    image(t: Tokens.Image) {
      return this.text({ type: "text", raw: t.raw, text: t.text || t.href, escaped: false });
    },
  },
});

const cache = new Map<string, string>();

/** The safe HTML of `src`, cached (long conversations re-render often). */
export function renderMarkdown(src: string): string {
  let html = cache.get(src);
  if (html === undefined) {
    html = sanitize(md.parse(src) as string);
    if (cache.size > 2000) cache.clear();
    cache.set(src, html);
  }
  return html;
}
