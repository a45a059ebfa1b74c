"""Render README.md from nbs/index.ipynb (Quarto, which `nbdev_readme` needs, cannot be installed here).

    python tools/readme.py          # write README.md
    python tools/readme.py --check  # exit 1 if README.md is out of date

Markdown cells are copied as they are; code cells not marked `#| hide` become Python code blocks.
"""
import json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = "<!-- Generated from nbs/index.ipynb by tools/readme.py: edit the notebook, then run that script. -->\n\n"

def render(nb_path=ROOT/'nbs'/'index.ipynb') -> str:
    nb = json.loads(Path(nb_path).read_text(encoding='utf-8'))
    parts = []
    for cell in nb['cells']:
        src = ''.join(cell['source']).strip()
        if not src: continue
        if cell['cell_type'] == 'markdown': parts.append(src)
        elif cell['cell_type'] == 'code':
            lines = src.splitlines()
            if any(l.strip().replace(' ', '') in ('#|hide', '#|exporti') for l in lines): continue
            lines = [l for l in lines if not l.lstrip().startswith('#|')]
            if lines: parts.append('```python\n' + '\n'.join(lines) + '\n```')
    return HEADER + '\n\n'.join(parts) + '\n'

if __name__ == '__main__':
    readme = ROOT/'README.md'
    text = render()
    if '--check' in sys.argv:
        ok = readme.exists() and readme.read_text(encoding='utf-8') == text
        print('README.md is up to date' if ok else 'README.md is out of date: run python tools/readme.py')
        sys.exit(0 if ok else 1)
    readme.write_text(text, encoding='utf-8')
    print(f'wrote {readme}')
