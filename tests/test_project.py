"Project-level checks that no notebook can make about itself: README, notebook/library sync, clean notebooks, declared requirements, packaging, Colab cells."
import ast, configparser, hashlib, json, os, re, shutil, subprocess, sys, types
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

def test_readme_matches_index():
    sys.path.insert(0, str(ROOT/'tools'))
    from readme import render
    assert (ROOT/'README.md').read_text(encoding='utf-8') == render(), "README.md is out of date: run `python tools/readme.py`"

def test_readme_installs_what_settings_names():
    "The README's install lines name settings.ini's distribution and its repository address, the address's one home."
    cfg, readme = _settings(), (ROOT/'README.md').read_text(encoding='utf-8')
    assert f"`pip install {cfg['lib_name']}`" in readme and f'"{cfg["lib_name"]} @ git+{cfg["git_url"]}"' in readme, \
        f"the README should say how to install {cfg['lib_name']} from the index and from {cfg['git_url']} (settings.ini)"
    assert set(re.findall(r'git\+(\S+?)["`\s]', readme)) == {cfg['git_url']}, "the README names another repository address than settings.ini's git_url"

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

def _settings():
    cfg = configparser.ConfigParser(delimiters=['=']); cfg.read(ROOT/'settings.ini', encoding='utf-8')
    return cfg['DEFAULT']

def test_library_imports_are_declared():
    "Every third-party module that miniai imports is a runtime requirement, so `pip install .` gives a working library."
    reqs = {r.split('>')[0].split('<')[0].split('=')[0].split('[')[0].lower() for r in _settings()['requirements'].split()}
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

def _package_source(tmp):
    "A copy of the files the package is built from: building from what git tracks, a stale build/ folder cannot add or hide a file."
    src = tmp/'src'
    src.mkdir()
    for name in ('settings.ini', 'setup.py', 'pyproject.toml', 'README.md', 'MANIFEST.in'): shutil.copy(ROOT/name, src/name)
    shutil.copytree(ROOT/'miniai', src/'miniai', ignore=shutil.ignore_patterns('__pycache__'))
    return src

PIP_WHEEL = [sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '--no-index']

def test_packaging_prints_no_warnings(tmp_path):
    "Building a wheel as `pip install .` does, an editable one as `pip install -e .` does, and a wheel from the sdist the index would serve prints no warning: the weights are declared package data, the licence an SPDX expression, and the sdist carries settings.ini, which setup.py reads."
    src = _package_source(tmp_path)
    logs = {'pip wheel .': subprocess.run(PIP_WHEEL + ['-w', str(tmp_path/'dist'), str(src)], capture_output=True, text=True)}
    backend = lambda hook, out: subprocess.run([sys.executable, '-c', f'import sys; from setuptools import build_meta; print(build_meta.{hook}(sys.argv[1]))',
                                                str(out)], cwd=src, capture_output=True, text=True)
    logs['editable (pip install -e .)'] = backend('build_editable', tmp_path/'editable')
    logs['sdist'] = backend('build_sdist', tmp_path/'sdist')
    assert logs['sdist'].returncode == 0, logs['sdist'].stderr[-3000:]
    shutil.unpack_archive(tmp_path/'sdist'/logs['sdist'].stdout.split()[-1], tmp_path/'unpacked')
    unpacked, = (tmp_path/'unpacked').iterdir()
    logs['pip wheel sdist'] = subprocess.run(PIP_WHEEL + ['-w', str(tmp_path/'dist2'), str(unpacked)], capture_output=True, text=True)
    for what, out in logs.items():
        text = (out.stdout + out.stderr).replace(str(tmp_path), '<tmp>')   # the folder is named after this test
        assert out.returncode == 0, f"{what} failed:\n{text[-3000:]}"
        # pip's WARNING lines, and Python warnings as the warnings module prints them (file.py:LINE: Category: message)
        warnings = [line.strip() for line in text.splitlines() if re.search(r'(?i)warning\b|\.py:\d+: \w+: ', line)]
        assert not warnings, f"{what} warns about the project's packaging (setup.py, settings.ini, pyproject.toml, MANIFEST.in):\n" + '\n'.join(warnings)

def test_installed_package_ships_its_weights(tmp_path):
    "`pip install .` (a wheel, no dev extras) installs every file of miniai/weights/, and the classifiers load from the installed copy."
    weights = sorted(p.name for p in (ROOT/'miniai'/'weights').glob('*.pt'))
    assert {'fmnist_resnet.pt', 'tiny_imagenet_autoencoder.pt'} <= set(weights), weights
    src = _package_source(tmp_path)
    subprocess.run(PIP_WHEEL + ['-q', '-w', str(tmp_path/'dist'), str(src)], check=True, capture_output=True)
    wheel, = (tmp_path/'dist').glob(f"{_settings()['lib_name'].replace('-', '_')}-*.whl")
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '-q', '--target', str(tmp_path/'site'), str(wheel)], check=True, capture_output=True)
    shipped = sorted(p.name for p in (tmp_path/'site'/'miniai'/'weights').glob('*.pt'))
    assert shipped == weights, f"the installed package has the weights {shipped}, the repository {weights}: check package_data in setup.py"
    code = ("import miniai, sys; from pathlib import Path; assert Path(miniai.__file__).is_relative_to(sys.argv[1]), miniai.__file__\n"
            "from miniai.resnet import fmnist_classifier; fmnist_classifier(device='cpu')\n"
            "from miniai.tiny_imagenet import tiny_imagenet_classifier, TINY_WEIGHTS\n"
            "if TINY_WEIGHTS in sys.argv[2:]: assert tiny_imagenet_classifier(device='cpu').n_in == 3\n"
            "from miniai.autoencoder import Autoencoder, find_autoencoder\n"
            "from miniai.checkpoint import load_model\n"
            "path = find_autoencoder()   # no file of lesson 17a's under MINIAI_DATA: the installed package's copy\n"
            "assert path.is_relative_to(sys.argv[1]), path\n"
            "assert load_model(path, expect=Autoencoder).meta['mode'] == 'cpu'\n"
            "print('ok')")
    env = {**os.environ, 'PYTHONPATH': str(tmp_path/'site'), 'MINIAI_DATA': str(tmp_path/'data')}
    out = subprocess.run([sys.executable, '-c', code, str(tmp_path/'site'), *weights], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.stdout.strip() == 'ok', out.stderr[-2000:]

def _stdout(name:str) -> str:
    "The printed outputs of a published lesson, every cell's."
    nb = json.loads((ROOT/'nbs'/f'{name}.ipynb').read_text())
    return ''.join(''.join(o.get('text', '')) for c in nb['cells'] if c['cell_type'] == 'code' for o in c.get('outputs', []) if o.get('output_type') == 'stream')

def test_package_autoencoder_is_the_one_lesson_17a_published():
    "The autoencoder in miniai/weights loads (its checksum checked) and is the model lesson 17a's published cpu-mode run saved: the same arm, steps, latent scale and scores as that run printed."
    sys.path.insert(0, str(ROOT))
    from miniai.autoencoder import Autoencoder, AE_WEIGHTS
    from miniai.checkpoint import load_model
    from miniai.resnet import package_weights_path
    m = load_model(package_weights_path(AE_WEIGHTS), expect=Autoencoder).meta
    nb = json.loads((ROOT/'nbs'/'17a_autoencoder.ipynb').read_text())
    assert nb['metadata']['miniai_run']['mode'] == m['mode'] == 'cpu', (nb['metadata'].get('miniai_run'), m['mode'])
    out = _stdout('17a_autoencoder')
    saved = re.search(r"saved the '(.+?)' autoencoder to \S+: latent scale (\d+\.\d{4})", out)
    assert saved, "lesson 17a's published outputs do not say which autoencoder they saved"
    assert (m['arm'], f"{m['latent_scale']:.4f}") == saved.groups(), \
        f"the package's autoencoder ({m['arm']!r}, latent scale {m['latent_scale']:.4f}) is not the one lesson 17a's published run saved {saved.groups()}: republish 17a with MINIAI_SHIP_WEIGHTS=1"
    rfid = re.search(rf"{re.escape(m['arm'])}\s+{m['steps']}\s+(\d+\.\d+)\s+(\d+\.\d+)", out)
    assert rfid and abs(float(rfid[1]) - m['rFID']) < 0.01 and abs(float(rfid[2]) - m['PSNR']) < 0.01, (rfid and rfid.groups(), m)

def test_colab_cells_are_written_from_settings(tmp_path):
    "Every lesson's first cell is what tools/colab.py writes from settings.ini; a cell edited by hand is caught."
    sys.path.insert(0, str(ROOT/'tools'))
    from colab import differing
    assert differing() == [], f"these lessons' first cells differ from what settings.ini says: {differing()}; run python tools/colab.py"
    for name in ('00_core', '11_samplers'): shutil.copy(ROOT/'nbs'/f'{name}.ipynb', tmp_path)
    nb = json.loads((tmp_path/'11_samplers.ipynb').read_text())
    nb['cells'][0]['source'] = [l.replace('github.com', 'gitlab.com') for l in nb['cells'][0]['source']]
    (tmp_path/'11_samplers.ipynb').write_text(json.dumps(nb))
    assert differing(tmp_path) == ['11_samplers.ipynb']

def _first_cell(name): return ''.join(json.loads((ROOT/'nbs'/f'{name}.ipynb').read_text())['cells'][0]['source'])

def test_colab_cell_installs_from_the_repository(tmp_path, monkeypatch, capsys):
    "In Colab each lesson's first cell pip-installs settings.ini's distribution from settings.ini's address (pip mocked here), and a lesson that needs an earlier lesson's model names the notebook that makes it, while the model is missing; outside Colab the cell does nothing."
    sys.path.insert(0, str(ROOT/'tools'))
    from colab import lessons, needs
    cfg, calls = _settings(), []
    monkeypatch.setattr(subprocess, 'run', lambda cmd, **kw: calls.append(cmd))
    monkeypatch.delenv('MINIAI_COLAB_INSTALL', raising=False)
    monkeypatch.setenv('MINIAI_DATA', str(tmp_path)); monkeypatch.setenv('MINIAI_MODE', 'quick')
    monkeypatch.delitem(sys.modules, 'google.colab', raising=False)
    for nb in lessons(): exec(_first_cell(nb.stem), {})
    assert calls == [] and capsys.readouterr().out == '', "outside Colab the first cell must do nothing"
    monkeypatch.setitem(sys.modules, 'google.colab', types.ModuleType('google.colab'))
    needing = {'11_samplers': '10_karras', '13_consistency': '10_karras', '17_latent_dit': '17a_autoencoder'}   # scripts/lessons.sh NEEDS
    assert {nb.stem: maker for nb in lessons() for _, maker, _ in needs(nb.stem)} == needing
    shipping = {nb.stem: shipped for nb in lessons() for _, _, shipped in needs(nb.stem) if shipped}
    assert shipping == {'17_latent_dit': 'tiny_imagenet_autoencoder.pt'} and (ROOT/'miniai'/'weights'/shipping['17_latent_dit']).is_file()
    for nb in lessons():
        calls.clear()
        exec(_first_cell(nb.stem), {})
        assert calls == [[sys.executable, '-m', 'pip', 'install', '-q', f"{cfg['lib_name']} @ git+{cfg['git_url']}"]], f"{nb.name}: {calls}"
        out = capsys.readouterr().out
        if nb.stem in needing:
            maker = needing[nb.stem]
            assert f"run nbs/{maker}.ipynb in Colab first" in out and f'{maker}_quick.pt' in out, f"{nb.name}: {out!r}"
            verb = 'uses' if nb.stem in shipping else 'needs'
            assert f"{verb} lesson {maker.split('_')[0]}'s model" in out, f"{nb.name} must name lesson {maker.split('_')[0]}: {out!r}"
            if nb.stem in shipping: assert f"loads the copy that ships with miniai, miniai/weights/{shipping[nb.stem]}" in out, out
        else: assert out == '', f"{nb.name}: {out!r}"
    (tmp_path/'checkpoints').mkdir(); (tmp_path/'checkpoints'/'10_karras_quick.pt').touch()
    exec(_first_cell('11_samplers'), {})
    assert capsys.readouterr().out == '', "with lesson 10's model in place, lesson 11's cell says nothing"

def test_colab_cell_installs_a_working_package(tmp_path):
    "Lesson 11's first cells run as in Colab, with the install pointed at a copy of this checkout: pip installs the package, and the lesson imports miniai from the installed copy."
    cfg, src, site = _settings(), _package_source(tmp_path), tmp_path/'site'
    site.mkdir()
    env = {**os.environ, 'PYTHONPATH': str(site), 'MINIAI_DATA': str(tmp_path/'data'), 'MINIAI_MODE': 'quick',
           'MINIAI_COLAB_INSTALL': f"{cfg['lib_name']} @ {src.as_uri()}",   # pip checks that the name is the distribution's
           # into `site`, nothing else, offline; pip reads PIP_NO_BUILD_ISOLATION=0 as --no-build-isolation
           'PIP_TARGET': str(site), 'PIP_NO_DEPS': '1', 'PIP_NO_INDEX': '1', 'PIP_NO_BUILD_ISOLATION': '0'}
    code = ("import json, sys, types\n"
            "sys.modules['google.colab'] = types.ModuleType('google.colab')\n"
            "ns = {}\n"
            "for c in [c for c in json.load(open(sys.argv[1]))['cells'] if c['cell_type'] == 'code'][:4]: exec(''.join(c['source']), ns)\n"
            "print('imported', *sorted({m.__file__ for n, m in sys.modules.items() if n.split('.')[0] == 'miniai'}))")
    out = subprocess.run([sys.executable, '-c', code, str(ROOT/'nbs'/'11_samplers.ipynb')], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    files = out.stdout.split('imported', 1)[1].split()
    assert {'core.py', 'diffusion.py', 'samplers.py'} <= {Path(f).name for f in files}, files
    assert all(Path(f).is_relative_to(site) for f in files), f"miniai came from elsewhere than the Colab cell's install: {files}"
    assert 'run nbs/10_karras.ipynb in Colab first' in out.stdout, out.stdout

def test_every_notebook_is_in_the_teaching_order():
    "scripts/lessons.sh lists each notebook exactly once, so the test command runs them all, in the order the course teaches them."
    sys.path.insert(0, str(ROOT/'tools'))
    from colab import lessons_var
    listed = lessons_var('LESSONS')
    assert len(listed) == len(set(listed)), f"a lesson is listed twice in scripts/lessons.sh: {listed}"
    on_disk = sorted(p.stem for p in (ROOT/'nbs').glob('*.ipynb'))
    assert sorted(listed) == on_disk, f"scripts/lessons.sh and nbs/ disagree: missing {sorted(set(on_disk) - set(listed))}, extra {sorted(set(listed) - set(on_disk))}"
    assert listed.index('07a_unet') < listed.index('07_ddpm') and listed.index('06a_diffusion') < listed.index('07a_unet')

def test_later_lessons_keep_code_cells_short():
    "From lesson 08 on, a lesson's second half must not turn into a lab report: no code cell over 40 lines (orchestration belongs in `miniai.experiment`)."
    long = []
    for nb_path in sorted((ROOT/'nbs').glob('[0-9][0-9]*.ipynb')):
        if int(nb_path.name[:2]) < 8: continue
        for i, c in enumerate(json.loads(nb_path.read_text())['cells']):
            n = len(''.join(c['source']).splitlines())
            if c['cell_type'] == 'code' and n > 40: long.append(f"{nb_path.name}, cell {i}: {n} lines")
    assert not long, "code cells over 40 lines (split them, or move the machinery into the library):\n" + '\n'.join(long)

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
    # The Colab cell (checked by the Colab tests above, inert outside Colab) does not count; every other code cell does.
    from colab import colab_cell
    from publish import LEGACY_COLAB, code_cells
    nb['cells'].insert(0, {'cell_type': 'code', 'source': colab_cell('11_samplers'), 'outputs': []})
    nb['metadata'][RECORD].update(mode='cpu', code_hash=code_hash(nb))
    nb['cells'][0]['source'] = colab_cell('11_samplers').replace('github.com', 'gitlab.com')
    assert staleness(nb, '11_samplers') is None
    nb['cells'][1]['source'] = ['x = 3']
    assert 'stale' in staleness(nb, '11_samplers')
    # records made when every code cell counted, the Colab cell then being LEGACY_COLAB, are still valid
    nb['cells'][0]['source'] = LEGACY_COLAB
    assert code_hash(nb) == hashlib.sha256(json.dumps(code_cells(nb)).encode()).hexdigest()

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
