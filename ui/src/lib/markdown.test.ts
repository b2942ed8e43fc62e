// @vitest-environment jsdom
import { describe, expect, test } from "vitest";
import { renderMarkdown, sanitize } from "./markdown";

/** The output as a DOM, to assert on what a browser would build from it. */
function dom(html: string): HTMLElement {
  const div = document.createElement("div");
  div.innerHTML = html;
  return div;
}

/** Why `el` is not inert, or "" when it is. */
function unsafe(el: HTMLElement): string {
  for (const e of el.querySelectorAll("*")) {
    const tag = e.tagName.toLowerCase();
    if (["script", "style", "iframe", "object", "embed", "form", "svg", "math", "img", "link", "meta", "base"].includes(tag))
      return `<${tag}>`;
    for (const a of e.attributes) {
      if (a.name.startsWith("on")) return `${tag}[${a.name}]`;
      if (["href", "src", "action", "formaction", "xlink:href"].includes(a.name) && !/^(https?:|mailto:|#|\/|\.)/i.test(a.value))
        return `${tag}[${a.name}=${a.value}]`;
    }
  }
  return "";
}

const PAYLOADS = [
  "<script>window.__pwned = 1</script>",
  "<img src=x onerror=\"window.__pwned = 1\">",
  "<a href=\"javascript:window.__pwned=1\">click</a>",
  "<a href=\"JaVaScRiPt:window.__pwned=1\">click</a>",
  "<a href=\"java&#x09;script:window.__pwned=1\">click</a>",
  "<a href=\"data:text/html,<script>window.__pwned=1</script>\">click</a>",
  "<svg onload=\"window.__pwned=1\"><circle r=1 /></svg>",
  "<svg><script>window.__pwned=1</script></svg>",
  "<svg><a xlink:href=\"javascript:window.__pwned=1\"><text>x</text></a></svg>",
  "<math><mtext><table><mglyph><style><img src=x onerror=window.__pwned=1>",
  "<iframe src=\"javascript:window.__pwned=1\"></iframe>",
  "<iframe srcdoc=\"<script>window.__pwned=1</script>\"></iframe>",
  "<object data=\"javascript:window.__pwned=1\"></object><embed src=\"x.swf\">",
  "<form action=\"https://evil.example\"><input type=text name=p><button>go</button></form>",
  "<style>body{display:none}</style><p style=\"position:fixed\">styled</p>",
  "<details open ontoggle=\"window.__pwned=1\"><summary>s</summary></details>",
  "<div onclick=\"window.__pwned=1\" data-x=1 class=\"btn\">div</div>",
];

describe("sanitize", () => {
  for (const p of PAYLOADS) {
    test(`inert: ${p}`, () => {
      expect(unsafe(dom(sanitize(p)))).toBe("");
    });
  }

  test("keeps the text of what it drops, not the code", () => {
    const out = dom(sanitize("<div onclick=\"x()\">hello <b>there</b></div><script>secret()</script>"));
    expect(out.textContent).toBe("hello there");
  });

  test("links keep their address and open in a new tab without an opener", () => {
    const a = dom(sanitize('<a href="https://example.com/x" target="_self" rel="opener">x</a>')).querySelector("a")!;
    expect(a.getAttribute("href")).toBe("https://example.com/x");
    expect(a.getAttribute("target")).toBe("_blank");
    expect(a.getAttribute("rel")).toBe("noopener noreferrer");
    for (const href of ["mailto:a@example.com", "/tasks/1", "#top", "docs/a.md"])
      expect(dom(sanitize(`<a href="${href}">x</a>`)).querySelector("a")!.getAttribute("href")).toBe(href);
  });

  test("the only inputs are disabled checkboxes", () => {
    const out = dom(sanitize('<input type="checkbox" checked><input type="text" value="pw">'));
    const inputs = out.querySelectorAll("input");
    expect(inputs.length).toBe(1);
    expect(inputs[0].type).toBe("checkbox");
    expect(inputs[0].checked).toBe(true);
    expect(inputs[0].disabled).toBe(true);
  });
});

describe("renderMarkdown", () => {
  test("raw HTML in agent text is shown as text", () => {
    for (const p of PAYLOADS) {
      const out = dom(renderMarkdown(`Look: ${p}\n\n${p}\n`));
      expect(unsafe(out), p).toBe("");
    }
    const out = dom(renderMarkdown("Use <script> tags and <img src=x onerror=f()>."));
    expect(out.textContent).toContain("Use <script> tags and <img src=x onerror=f()>.");
  });

  test("markdown links to other schemes lose their address, keeping the text", () => {
    for (const href of ["javascript:window.__pwned=1", "JAVASCRIPT:x", "vbscript:x", "data:text/html,x"]) {
      const out = dom(renderMarkdown(`[click me](${href}) and <${href}>`));
      expect(unsafe(out), href).toBe("");
      expect(out.textContent).toContain("click me");
    }
  });

  test("images are shown as their alt text, not fetched", () => {
    const out = dom(renderMarkdown("![a diagram](https://example.com/x.png) ![](javascript:x)"));
    expect(out.querySelector("img")).toBeNull();
    expect(out.textContent).toContain("a diagram");
  });

  test("ordinary markdown keeps its formatting", () => {
    const out = dom(
      renderMarkdown(
        "# Title\n\nSome **bold**, _em_, ~~del~~ and `code`.\n\n```ts\nconst a = 1 < 2;\n```\n\n" +
          "- [x] done\n- [ ] todo\n\n| a | b |\n|:-|-:|\n| 1 | 2 |\n\n3. three\n\n> quoted\n\n" +
          "See https://example.com and [docs](https://example.com/docs \"The docs\").\n",
      ),
    );
    expect(out.querySelector("h1")!.textContent).toBe("Title");
    expect(out.querySelector("strong")!.textContent).toBe("bold");
    expect(out.querySelector("em")!.textContent).toBe("em");
    expect(out.querySelector("del")!.textContent).toBe("del");
    expect(out.querySelector("pre code")!.textContent).toBe("const a = 1 < 2;\n");
    expect([...out.querySelectorAll("input")].map((i) => [i.type, i.checked, i.disabled])).toEqual([
      ["checkbox", true, true],
      ["checkbox", false, true],
    ]);
    expect(out.querySelector("td")!.getAttribute("align")).toBe("left");
    expect(out.querySelector("ol")!.getAttribute("start")).toBe("3");
    expect(out.querySelector("blockquote")!.textContent!.trim()).toBe("quoted");
    const links = [...out.querySelectorAll("a")];
    expect(links.map((a) => [a.getAttribute("href"), a.getAttribute("title"), a.target, a.rel])).toEqual([
      ["https://example.com", null, "_blank", "noopener noreferrer"],
      ["https://example.com/docs", "The docs", "_blank", "noopener noreferrer"],
    ]);
  });
});
