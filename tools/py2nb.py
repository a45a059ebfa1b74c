"""Convert a percent-format script into a clean notebook (an authoring aid).

Cells start with `# %%` (code) or `# %% [markdown]` (markdown, each line prefixed by `# `).
Usage: python tools/py2nb.py lesson.py nbs/NN_name.ipynb
The notebook is the source of truth afterwards; this only saves typing JSON by hand.
When the notebook exists, its cell ids are kept (for cells whose source is unchanged, then by position),
so that re-converting does not churn the ids that `nbdev_export` writes into the modules.
"""
import json, re, sys
from pathlib import Path

def cells_from_script(text):
    cells, kind, lines = [], None, []
    def flush():
        if kind is None: return
        src = lines[:]
        while src and not src[-1].strip(): src.pop()
        while src and not src[0].strip(): src.pop(0)
        if kind == 'markdown': src = [re.sub(r'^# ?', '', l) for l in src]
        if src: cells.append((kind, '\n'.join(src)))
    for line in text.splitlines():
        m = re.match(r'^# %%(.*)$', line)
        if m:
            flush()
            kind, lines = ('markdown' if '[markdown]' in m.group(1) else 'code'), []
        elif kind is not None: lines.append(line)
    flush()
    return cells

def to_notebook(cells):
    def src(s):
        ls = s.split('\n')
        return [l + '\n' for l in ls[:-1]] + [ls[-1]]
    nb_cells = []
    for kind, s in cells:
        c = {'cell_type': kind, 'metadata': {}, 'source': src(s)}
        if kind == 'code': c.update(execution_count=None, outputs=[])
        nb_cells.append(c)
    return {'cells': nb_cells, 'metadata': {'kernelspec': {'display_name': 'python3', 'language': 'python', 'name': 'python3'}},
            'nbformat': 4, 'nbformat_minor': 4}

def keep_ids(nb, old):
    "Give `nb`'s cells the ids of `old`'s: same source first, then the cell at the same position."
    old_cells = [c for c in old.get('cells', []) if 'id' in c]
    by_src = {}
    for c in old_cells: by_src.setdefault(''.join(c['source']), []).append(c['id'])
    used = set()
    for c in nb['cells']:
        ids = [i for i in by_src.get(''.join(c['source']), []) if i not in used]
        if ids: c['id'] = ids[0]; used.add(ids[0])
    for i, c in enumerate(nb['cells']):
        if 'id' not in c and i < len(old_cells) and old_cells[i]['id'] not in used:
            c['id'] = old_cells[i]['id']; used.add(c['id'])
    if any('id' in c for c in nb['cells']): nb['nbformat_minor'] = max(nb['nbformat_minor'], 5)
    return nb

if __name__ == '__main__':
    src, dst = sys.argv[1:3]
    nb = to_notebook(cells_from_script(Path(src).read_text()))
    if Path(dst).exists(): nb = keep_ids(nb, json.loads(Path(dst).read_text()))
    Path(dst).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
    print(f'wrote {dst}: {len(nb["cells"])} cells')
