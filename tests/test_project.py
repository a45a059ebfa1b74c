"Project-level checks that no notebook can make about itself: README, notebook/library sync, clean notebooks, declared requirements."
import ast, configparser, json, os, shutil, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

def test_readme_matches_index():
    sys.path.insert(0, str(ROOT/'tools'))
    from readme import render
    assert (ROOT/'README.md').read_text(encoding='utf-8') == render(), "README.md is out of date: run `python tools/readme.py`"

def _copy_project(tmp):
    for name in ('settings.ini', 'setup.py', 'nbs', 'miniai'):
        src = ROOT/name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp/name)

def _tree(folder):
    return {p.relative_to(folder).as_posix(): p.read_text(encoding='utf-8') for p in sorted(folder.rglob('*'))
            if p.is_file() and '__pycache__' not in p.parts and p.suffix in ('.py', '.ipynb')}

def test_library_matches_notebooks(tmp_path):
    "Exporting the notebooks again must reproduce miniai/ exactly: nobody edited the library by hand or forgot to export."
    _copy_project(tmp_path)
    subprocess.run([str(BIN/'nbdev_export')], cwd=tmp_path, check=True, capture_output=True)
    assert _tree(tmp_path/'miniai') == _tree(ROOT/'miniai'), "miniai/ differs from what nbdev_export writes: run nbdev_export and commit"

def test_notebooks_are_clean(tmp_path):
    "nbdev_clean must change nothing: no outputs-in-progress, execution counts or stray metadata are committed."
    _copy_project(tmp_path)
    subprocess.run([str(BIN/'nbdev_clean')], cwd=tmp_path, check=True, capture_output=True)
    assert _tree(tmp_path/'nbs') == _tree(ROOT/'nbs'), "some notebooks are not clean: run nbdev_clean and commit"

# import name -> distribution name, where they differ
DISTS = {'PIL': 'pillow', 'sklearn': 'scikit-learn', 'yaml': 'pyyaml'}

def test_library_imports_are_declared():
    "Every third-party module that miniai imports is a runtime requirement, so `pip install .` gives a working library."
    cfg = configparser.ConfigParser(delimiters=['=']); cfg.read(ROOT/'settings.ini')
    reqs = {r.split('>')[0].split('<')[0].split('=')[0].split('[')[0].lower() for r in cfg['DEFAULT']['requirements'].split()}
    stdlib = set(sys.stdlib_module_names)
    missing = {}
    for py in (ROOT/'miniai').glob('*.py'):
        for node in ast.walk(ast.parse(py.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            for n in names:
                top = n.split('.')[0]
                if top in stdlib or top in ('miniai', '__future__'): continue
                if DISTS.get(top, top).lower().replace('_', '-') not in {r.replace('_', '-') for r in reqs}:
                    missing.setdefault(top, []).append(py.name)
    assert not missing, f"modules imported by miniai but not in settings.ini requirements: {missing}"

def test_installed_package_ships_its_weights(tmp_path):
    "`pip install .` (a wheel, no dev extras) installs every file of miniai/weights/, and the classifiers load from the installed copy."
    weights = sorted(p.name for p in (ROOT/'miniai'/'weights').glob('*.pt'))
    assert 'fmnist_resnet.pt' in weights, weights
    src = tmp_path/'src'   # build from a copy of what git tracks, so that a stale build/ folder cannot add or hide a file
    src.mkdir()
    for name in ('settings.ini', 'setup.py', 'pyproject.toml', 'README.md'): shutil.copy(ROOT/name, src/name)
    shutil.copytree(ROOT/'miniai', src/'miniai', ignore=shutil.ignore_patterns('__pycache__'))
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w', str(tmp_path/'dist'), str(src)],
                   check=True, capture_output=True)
    wheel, = (tmp_path/'dist').glob('miniai-*.whl')
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '-q', '--target', str(tmp_path/'site'), str(wheel)], check=True, capture_output=True)
    shipped = sorted(p.name for p in (tmp_path/'site'/'miniai'/'weights').glob('*.pt'))
    assert shipped == weights, f"the installed package has the weights {shipped}, the repository {weights}: check package_data in setup.py"
    code = ("import miniai, sys; from pathlib import Path; assert Path(miniai.__file__).is_relative_to(sys.argv[1]), miniai.__file__\n"
            "from miniai.resnet import fmnist_classifier; fmnist_classifier(device='cpu')\n"
            "from miniai.tiny_imagenet import tiny_imagenet_classifier, TINY_WEIGHTS\n"
            "if TINY_WEIGHTS in sys.argv[2:]: assert tiny_imagenet_classifier(device='cpu').n_in == 3\n"
            "print('ok')")
    env = {**os.environ, 'PYTHONPATH': str(tmp_path/'site')}
    out = subprocess.run([sys.executable, '-c', code, str(tmp_path/'site'), *weights], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.stdout.strip() == 'ok', out.stderr[-2000:]

def test_every_lesson_can_install_itself_in_colab():
    "Each lesson's first cell installs miniai when it runs in Colab."
    for nb in sorted((ROOT/'nbs').glob('[0-9]*.ipynb')):
        first = ''.join(json.loads(nb.read_text())['cells'][0]['source'])
        assert 'google.colab' in first and 'pip' in first, f"{nb.name}: the first cell must install miniai in Colab"

def test_every_notebook_is_in_the_teaching_order():
    "scripts/lessons.sh lists each notebook exactly once, so the test command runs them all, in the order the course teaches them."
    text = (ROOT/'scripts'/'lessons.sh').read_text()
    listed = text.split('LESSONS="', 1)[1].split('"', 1)[0].split()
    assert len(listed) == len(set(listed)), f"a lesson is listed twice in scripts/lessons.sh: {listed}"
    on_disk = sorted(p.stem for p in (ROOT/'nbs').glob('*.ipynb'))
    assert sorted(listed) == on_disk, f"scripts/lessons.sh and nbs/ disagree: missing {sorted(set(on_disk) - set(listed))}, extra {sorted(set(listed) - set(on_disk))}"
    assert listed.index('07a_unet') < listed.index('07_ddpm') and listed.index('06a_diffusion') < listed.index('07a_unet')

def test_published_outputs_match_their_code():
    "A lesson with outputs carries a record of the cpu- or gpu-mode run that made them, and its code is still the code of that run."
    sys.path.insert(0, str(ROOT/'tools'))
    from publish import staleness
    problems = [p for nb in sorted((ROOT/'nbs').glob('*.ipynb')) if (p := staleness(json.loads(nb.read_text()), nb.stem))]
    assert not problems, '\n'.join(problems)

def test_lesson_table_says_which_lessons_are_published():
    "The README's lesson table links every lesson, and its status says 'published from its MODE-mode run' exactly when the notebook carries that record."
    sys.path.insert(0, str(ROOT/'tools'))
    from publish import RECORD
    rows = [line for line in (ROOT/'README.md').read_text(encoding='utf-8').split('## Lessons', 1)[1].split('\n## ', 1)[0].splitlines()
            if line.startswith('| ') and '](nbs/' in line]
    status = {line.split('](nbs/', 1)[1].split(')', 1)[0]: line.rstrip(' |').rsplit(' | ', 1)[1] for line in rows}
    lessons = {p.name for p in (ROOT/'nbs').glob('[0-9]*.ipynb')}
    assert set(status) == lessons, f"the README's lesson table misses {sorted(lessons - set(status))} and links {sorted(set(status) - lessons)}"
    wrong = []
    for name, said in status.items():
        record = json.loads((ROOT/'nbs'/name).read_text())['metadata'].get(RECORD)
        claims = [m for m in ('cpu', 'gpu') if f'published from its {m}-mode run' in said]
        if claims != ([record['mode']] if record else []): wrong.append(f"{name}: the README says {said!r}, the notebook's record is {record and record['mode']}")
    assert not wrong, '\n'.join(wrong)

def test_stale_outputs_are_caught():
    "The check above can fail: outputs without a record, from quick mode, or from edited code are each named."
    sys.path.insert(0, str(ROOT/'tools'))
    from publish import staleness, code_hash, RECORD
    nb = {'cells': [{'cell_type': 'code', 'source': ['x = 1'], 'outputs': [{'output_type': 'stream', 'text': ['1']}]}], 'metadata': {}}
    assert 'no record' in staleness(nb, '10_karras')
    nb['metadata'][RECORD] = dict(mode='cpu', code_hash=code_hash(nb), date='2026-12-01', commit='abc')
    assert staleness(nb, '10_karras') is None
    nb['cells'][0]['source'] = ['x = 2']
    assert 'stale' in staleness(nb, '10_karras')
    nb['metadata'][RECORD].update(mode='quick', code_hash=code_hash(nb))
    assert 'quick' in staleness(nb, '10_karras')

def test_publishing_drops_progress_bars_only():
    "tqdm redraws its bar with carriage returns, and a notebook's stream keeps every frame; publishing keeps the printed text and drops the frames."
    sys.path.insert(0, str(ROOT/'tools'))
    from publish import strip_progress
    bars = ('sampling 500 images:   0%|          | 0/2 [00:00<?, ?it/s]\rsampling 500 images: 100%|##########| 2/2 [00:31<00:00, 15.90s/it]'
            '\r                                    \r')
    outs = [{'output_type': 'stream', 'name': 'stderr', 'text': [bars]},
            {'output_type': 'stream', 'name': 'stdout', 'text': ['budget 10: done, 413s so far\n', 'FID 18.2\n']},
            {'output_type': 'stream', 'name': 'stderr', 'text': [bars + '\nUserWarning: something real\n']},
            {'output_type': 'display_data', 'data': {'image/png': 'abc'}}]
    kept = strip_progress(outs)
    assert [o['output_type'] for o in kept] == ['stream', 'stream', 'display_data']
    assert kept[0]['text'] == 'budget 10: done, 413s so far\nFID 18.2\n'
    assert 'UserWarning: something real' in kept[1]['text'] and '%|' not in kept[1]['text']

def test_publishing_shrinks_pictures_to_their_shown_size():
    "The inline backend draws at twice the size it shows; publishing keeps the shown size, in 256 colours, so notebooks stay small."
    import base64, io
    from PIL import Image
    sys.path.insert(0, str(ROOT/'tools'))
    from publish import shrink_png
    im = Image.new('RGB', (400, 200), 'white')
    for x in range(0, 400, 7): im.paste((x % 256, 90, 255 - x % 256), (x, 0, x + 3, 200))
    buf = io.BytesIO(); im.save(buf, format='PNG')
    big = base64.b64encode(buf.getvalue()).decode()
    small = shrink_png(big, {'width': 200, 'height': 100})
    out = Image.open(io.BytesIO(base64.b64decode(small)))
    assert out.size == (200, 100) and len(small) < len(big)
    assert Image.open(io.BytesIO(base64.b64decode(shrink_png(small, None)))).size == (200, 100)   # no metadata: size kept

def test_site_has_every_lesson_working_links_and_pictures(tmp_path):
    "tools/course_site.py renders every notebook; each page lists all lessons, every relative link resolves, published pictures are embedded."
    import re
    sys.path.insert(0, str(ROOT/'tools'))
    from course_site import build, lessons
    out = build(tmp_path/'site')
    names = lessons()
    for name in names:
        page = out/f'{name}.html'
        assert page.is_file(), f"the site has no page for {name}"
        text = page.read_text()
        missing = [n for n in names if f'href="{n}.html"' not in text]
        assert not missing, f"{name}.html lacks links to {missing}"
        for href in re.findall(r'href="([^"#:]+)', text):
            assert (out/href).is_file(), f"{name}.html links to {href}, which the site lacks"
        nb = json.loads((ROOT/'nbs'/f'{name}.ipynb').read_text())
        pictures = sum('image/png' in o.get('data', {}) for c in nb['cells'] for o in c.get('outputs', []))
        assert text.count('data:image/png;base64') >= pictures, f"{name}.html embeds fewer pictures than its notebook's {pictures}"
