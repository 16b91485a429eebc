"""A page as a list of blocks, rendered to Markdown or HTML. Kept tiny on purpose."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from suanwang.report.font import PAGE_FAMILY, page_font_face


@dataclass(frozen=True)
class Block:
    kind: str  # "h1", "h2", "p", "note", "table", "img"
    text: str = ""
    header: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    numeric: frozenset[int] = field(default_factory=frozenset)  # right-aligned columns
    src: str = ""


def h1(text: str) -> Block:
    return Block("h1", text)


def h2(text: str) -> Block:
    return Block("h2", text)


def p(text: str) -> Block:
    return Block("p", text)


def note(text: str) -> Block:
    return Block("note", text)


def table(header: list[str], rows: list[list[str]], numeric_from: int = 1) -> Block:
    return Block("table", header=tuple(header), rows=tuple(tuple(r) for r in rows),
                 numeric=frozenset(range(numeric_from, len(header))))


def img(src: str, caption: str) -> Block:
    return Block("img", caption, src=src)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    for b in blocks:
        if b.kind == "h1":
            out.append(f"# {b.text}")
        elif b.kind == "h2":
            out.append(f"## {b.text}")
        elif b.kind == "p":
            out.append(b.text)
        elif b.kind == "note":
            out.append(f"*{b.text}*")
        elif b.kind == "img":
            out.append(f"![{b.text}]({b.src})\n\n*{b.text}*")
        elif b.kind == "table":
            align = ["---:" if i in b.numeric else "---" for i in range(len(b.header))]
            lines = ["| " + " | ".join(_md_cell(h) for h in b.header) + " |",
                     "| " + " | ".join(align) + " |"]
            lines += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in b.rows]
            out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


STYLE = """
body{font-family:"PAGE_FAMILY","Noto Sans CJK SC","PingFang SC","Microsoft YaHei","Source Han Sans",
sans-serif;max-width:980px;margin:2em auto;padding:0 1em;line-height:1.6;color:#222}
h1{text-align:center}h2{border-left:5px solid #1c7ed6;padding-left:.4em}
table{border-collapse:collapse;margin:1em 0;width:100%}th,td{border:1px solid #ccc;
padding:.2em .5em}th{background:#f1f3f5}td.n{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1em 0;text-align:center}figure img{max-width:100%}figcaption,.note{font-size:90%;
color:#555}
""".replace("PAGE_FAMILY", PAGE_FAMILY)


def to_html(blocks: list[Block], lang: str, title: str) -> str:
    out: list[str] = []
    for b in blocks:
        if b.kind in ("h1", "h2", "p"):
            out.append(f"<{b.kind}>{escape(b.text)}</{b.kind}>")
        elif b.kind == "note":
            out.append(f'<p class="note">{escape(b.text)}</p>')
        elif b.kind == "img":
            out.append(f'<figure><img src="{escape(b.src)}" alt="{escape(b.text)}">'
                       f"<figcaption>{escape(b.text)}</figcaption></figure>")
        elif b.kind == "table":
            head = "".join(f"<th>{escape(h)}</th>" for h in b.header)
            body = "".join(
                "<tr>" + "".join(
                    f'<td class="n">{escape(c)}</td>' if i in b.numeric else f"<td>{escape(c)}</td>"
                    for i, c in enumerate(r)) + "</tr>" for r in b.rows)
            out.append(f"<table><tr>{head}</tr>{body}</table>")
    html_lang = "zh-CN" if lang == "zh" else "en"
    body = "\n".join(out)
    # the Chinese glyphs of this page, embedded: readable where no Chinese font is installed
    font = page_font_face(title + body)
    return (f'<!doctype html>\n<html lang="{html_lang}"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title><style>{font}{STYLE}</style></head>\n<body>\n"
            + body + "\n</body></html>\n")
