"""Write a notebook as a percent-format script, the inverse of `tools/py2nb.py` (an authoring aid).

Usage: python tools/nb2py.py nbs/NN_name.ipynb lesson.py
Edit the script, then `python tools/py2nb.py lesson.py nbs/NN_name.ipynb` writes the notebook back, keeping its cell ids.
Outputs are not carried: a notebook converted back has none (publish it again with `scripts/lesson.sh NN --publish`).
"""
import json, sys
from pathlib import Path

def script_from_notebook(nb) -> str:
    parts = []
    for c in nb['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'markdown': parts.append('# %% [markdown]\n' + '\n'.join(('# ' + l) if l else '#' for l in src.split('\n')))
        else: parts.append('# %%\n' + src)
    return '\n\n'.join(parts) + '\n'

if __name__ == '__main__':
    src, dst = sys.argv[1:3]
    Path(dst).write_text(script_from_notebook(json.loads(Path(src).read_text())))
    print(f'wrote {dst}')
