"""Render index.ipynb and every lesson, with their outputs, to static HTML: the course site (Quarto cannot be installed here).

Usage: python tools/course_site.py [OUT]   (default _site/, ignored by git; scripts/docs.sh runs it)
Each page gets the lesson list, with links to the previous and next lesson in teaching order (scripts/lessons.sh).
Links between notebooks (`nbs/10_karras.ipynb`, `10_karras.ipynb`) become links between pages.
"""
import html, json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def lessons() -> list[str]:
    "The notebooks in teaching order, as scripts/lessons.sh lists them."
    text = (ROOT/'scripts'/'lessons.sh').read_text()
    return text.split('LESSONS="', 1)[1].split('"', 1)[0].split()

def title(nb) -> str:
    for c in nb['cells']:
        if c['cell_type'] == 'markdown':
            for line in ''.join(c['source']).splitlines():
                if line.startswith('# '): return line[2:].strip()
    return ''

def _hidden(cell) -> bool:
    "Cells a reader does not need on the site: `#| hide` cells (the Colab install, the final export) and the `#| default_exp` line."
    src = ''.join(cell['source']).lstrip()
    return cell['cell_type'] == 'code' and (src.startswith('#| hide') or (src.startswith('#| default_exp') and len(src.splitlines()) == 1))

NB_LINK = re.compile(r'href="(?:\.\./)?(?:nbs/)?([0-9A-Za-z_]+)\.ipynb(#[^"]*)?"')

def nav(names, titles, current) -> str:
    here = ' class="here"'
    items = ''.join(f'<li{here if n == current else ""}><a href="{n}.html">{html.escape(titles[n] or n)}</a></li>' for n in names)
    i = names.index(current)
    prev = f'<a href="{names[i-1]}.html">&larr; {html.escape(titles[names[i-1]])}</a>' if i > 0 else ''
    nxt = f'<a href="{names[i+1]}.html">{html.escape(titles[names[i+1]])} &rarr;</a>' if i + 1 < len(names) else ''
    return (f'<nav class="miniai-nav"><b>miniai</b><ol>{items}</ol></nav>'
            f'<div class="miniai-prevnext">{prev}<span></span>{nxt}</div>')

STYLE = """<style>
.miniai-nav { position: fixed; left: 0; top: 0; bottom: 0; width: 15rem; overflow-y: auto; padding: 1rem; background: #f6f6f4; font: 13px sans-serif; border-right: 1px solid #ddd; z-index: 10; }
.miniai-nav ol { padding-left: 1.2rem; } .miniai-nav li { margin: .3rem 0; } .miniai-nav li.here a { font-weight: bold; color: #000; }
body { margin-left: 17rem !important; } .miniai-prevnext { display: flex; justify-content: space-between; margin: 1rem 2rem; font: 14px sans-serif; }
</style>"""

def build(out=None) -> Path:
    from nbconvert import HTMLExporter
    out = Path(out or ROOT/'_site'); out.mkdir(parents=True, exist_ok=True)
    names = lessons()
    nbs = {n: json.loads((ROOT/'nbs'/f'{n}.ipynb').read_text()) for n in names}
    titles = {n: title(nb) or n for n, nb in nbs.items()}
    exporter = HTMLExporter(template_name='lab')
    import nbformat
    for n, nb in nbs.items():
        nb = dict(nb, cells=[c for c in nb['cells'] if not _hidden(c)])
        body, _ = exporter.from_notebook_node(nbformat.reads(json.dumps(nb), as_version=4))
        body = NB_LINK.sub(lambda m: f'href="{m.group(1)}.html{m.group(2) or ""}"', body)
        page = nav(names, titles, n)
        body = body.replace('</head>', STYLE + '</head>', 1)
        body = re.sub(r'(<body[^>]*>)', lambda m: m.group(1) + page, body, count=1)
        body = body.replace('</body>', page.split('</nav>', 1)[1] + '</body>', 1)   # previous / next at the bottom too
        (out/f'{n}.html').write_text(body)
    print(f'wrote {len(nbs)} pages to {out} (open {out}/index.html)')
    return out

if __name__ == '__main__': build(sys.argv[1] if len(sys.argv) > 1 else None)
