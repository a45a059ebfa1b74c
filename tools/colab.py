"""Write the first cell of every lesson (nbs/[0-9]*.ipynb): in Colab it installs miniai from the repository; anywhere else it does nothing.

    python tools/colab.py          # rewrite the cells that differ from what settings.ini and scripts/lessons.sh say
    python tools/colab.py --check  # exit 1 and name the lessons whose cell differs

The repository's address has one home, settings.ini's `git_url`; the distribution name is its `lib_name`. A lesson that needs an
earlier lesson's model (NEEDS in scripts/lessons.sh) also says, in Colab, which notebook makes it: Colab gives each notebook a
machine of its own, so the file has to be carried over. tests/test_project.py fails when a cell differs from what this writes.
tools/publish.py leaves this cell out of the code hash of published outputs: it does nothing outside Colab.
"""
import configparser, hashlib, json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAD = '#| hide\n# Colab: '   # how every Colab cell starts, the ones written before this tool too
INSTALL_VAR = 'MINIAI_COLAB_INSTALL'   # overrides what the cell installs; only tests set it (to a local checkout)

def is_colab_cell(cell) -> bool: return cell['cell_type'] == 'code' and ''.join(cell['source']).startswith(HEAD)

def settings() -> configparser.SectionProxy:
    cfg = configparser.ConfigParser(delimiters=['=']); cfg.read(ROOT/'settings.ini', encoding='utf-8')
    return cfg['DEFAULT']

def lessons_var(name:str) -> list[str]:
    "The words of the shell variable `name` in scripts/lessons.sh (LESSONS, NEEDS)."
    text = (ROOT/'scripts'/'lessons.sh').read_text()
    if f'\n{name}="' not in text: raise KeyError(f"scripts/lessons.sh sets no {name}=\"...\"")
    return text.split(f'\n{name}="', 1)[1].split('"', 1)[0].split()

def install_spec() -> str:
    "What the Colab cell pip-installs: settings.ini's distribution name from its repository address."
    cfg = settings()
    return f"{cfg['lib_name']} @ git+{cfg['git_url']}"

def needs(name:str) -> list[tuple[str, str, str]]:
    "(checkpoint file with MODE for the run mode, lesson that makes it, the package's copy under miniai/weights or '') for each earlier model lesson `name` needs."
    return [(file, maker, shipped[0] if shipped else '') for entry in lessons_var('NEEDS')
            for lesson, file, maker, *shipped in [entry.split(':')] if lesson == name]

def colab_cell(name:str) -> str:
    "The source of lesson `name`'s first cell."
    cfg = settings()
    lines = [f"{HEAD}install {cfg['lib_name']} (import miniai) from {cfg['git_url']}; does nothing anywhere else.",
             "# Written by tools/colab.py from settings.ini: edit that, then run `python tools/colab.py`.",
             "import os, sys, subprocess",
             "if 'google.colab' in sys.modules:",
             f"    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', os.environ.get({INSTALL_VAR!r}, {install_spec()!r})], check=True)"]
    for i, (file, maker, shipped) in enumerate(needs(name)):
        if i == 0: lines += ["    import importlib; importlib.invalidate_caches()   # see the package pip just installed",
                             "    from miniai.core import data_dir, run_mode"]
        stem, ext = file.rsplit('MODE', 1)
        lesson = maker.split('_')[0]
        lines += [f"    need = data_dir('checkpoints', f'{stem}{{run_mode()}}{ext}', create=False)",
                  f"    if not need.exists(): print(f\"This lesson needs lesson {lesson}'s model, {{need}}: Colab gives each notebook its own machine, "
                  f"so run nbs/{maker}.ipynb in Colab first, then upload the file it saves there, data/checkpoints/{{need.name}}, to {{need.parent}} here.\")"
                  if not shipped else
                  f"    if not need.exists(): print(f\"This lesson uses lesson {lesson}'s model, {{need}}, which is not here (Colab gives each notebook its own machine), "
                  f"so it loads the copy that ships with miniai, miniai/weights/{shipped}, from lesson {lesson}'s published cpu-mode run. For your own, "
                  f"run nbs/{maker}.ipynb in Colab first, then upload the file it saves there, data/checkpoints/{{need.name}}, to {{need.parent}} here.\")"]
    return '\n'.join(lines)

def lessons(nbs:Path=ROOT/'nbs') -> list[Path]: return sorted(Path(nbs).glob('[0-9]*.ipynb'))

def differing(nbs:Path=ROOT/'nbs') -> list[str]:
    "The lessons in `nbs` whose first cell is not the Colab cell this tool writes."
    return [nb.name for nb in lessons(nbs) if ''.join(json.loads(nb.read_text())['cells'][0]['source']) != colab_cell(nb.stem)]

def write(nb_path:Path) -> bool:
    "Give `nb_path` its Colab cell (replacing the old one, or first if it has none); True if the file changed."
    nb = json.loads(nb_path.read_text())
    src = colab_cell(nb_path.stem)
    first = nb['cells'][0]
    if ''.join(first['source']) == src: return False
    if not is_colab_cell(first):
        first = dict(cell_type='code', execution_count=None, id=hashlib.sha1(nb_path.stem.encode()).hexdigest()[:8], metadata={}, outputs=[])
        nb['cells'].insert(0, first)
    first['source'] = src.splitlines(keepends=True)   # as nbdev_clean writes it
    nb_path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
    return True

if __name__ == '__main__':
    if '--check' in sys.argv:
        bad = differing()
        print(f"Colab cells differ from settings.ini in {', '.join(bad)}: run python tools/colab.py" if bad else 'every lesson has its Colab cell')
        sys.exit(1 if bad else 0)
    changed = [nb.name for nb in lessons() if write(nb)]
    print(f"rewrote the Colab cell of {', '.join(changed)}" if changed else 'every lesson already has its Colab cell')
