"""Publish a real run of a lesson: copy the outputs of the executed notebook into the lesson in nbs/, with a record of the run.

Usage (scripts/lesson.sh NN --publish does this for you):
    python tools/publish.py data/runs/10_karras.ipynb nbs/10_karras.ipynb --mode cpu --wall 1410 --device "..." --commit abc1234
The record goes into the notebook's metadata under `miniai_run` (allowed in settings.ini, so nbdev_clean keeps it): the run mode,
device, commit, date, wall time and a hash of the code cells (the Colab cell left out: see code_hash). tests/test_project.py fails when a lesson's outputs carry no record,
come from quick mode, or no longer match its code (the hash), so outputs can never silently describe other code.
"""
import argparse, datetime, hashlib, json, re, sys
from pathlib import Path
from colab import is_colab_cell

RECORD = 'miniai_run'

def code_cells(nb) -> list[str]: return [''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'code']

# The Colab cell that every lesson began with when records hashed all code cells. code_hash hashes this text in place of the Colab cell,
# so the cell (written by tools/colab.py, checked by its own test, inert outside Colab) can change without making outputs stale,
# and records made before the Colab cell was left out stay valid without a rewrite.
LEGACY_COLAB = ("#| hide\n# Colab: install miniai and its requirements first (does nothing anywhere else).\nimport sys, subprocess\n"
                "if 'google.colab' in sys.modules:\n"
                "    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', 'miniai @ git+https://github.com/miniai-course/miniai'], check=True)")

def code_hash(nb) -> str:
    "sha256 of the notebook's code cells in order, the Colab cell left out: what the outputs were computed from."
    cells = nb['cells'][1:] if nb['cells'] and is_colab_cell(nb['cells'][0]) else nb['cells']
    code = [LEGACY_COLAB] + [''.join(c['source']) for c in cells if c['cell_type'] == 'code']
    return hashlib.sha256(json.dumps(code).encode()).hexdigest()

def has_outputs(nb) -> bool: return any(c.get('outputs') for c in nb['cells'] if c['cell_type'] == 'code')

def staleness(nb, name:str) -> str|None:
    "Why the outputs of `nb` cannot be trusted, or None if they carry a record of a real run of exactly this code."
    if not has_outputs(nb): return None
    rec = nb.get('metadata', {}).get(RECORD)
    if not rec: return f"{name} has outputs but no record of the run that made them: publish it (scripts/lesson.sh {name[:3].rstrip('_')} --publish) or clear its outputs"
    if rec.get('mode') not in ('cpu', 'gpu'): return f"{name}'s outputs come from a {rec.get('mode')}-mode run: only cpu- or gpu-mode runs are published"
    if rec.get('code_hash') != code_hash(nb):
        return (f"{name}'s outputs are stale: its code changed after the {rec['mode']}-mode run of {rec.get('date')} (commit {rec.get('commit')}); "
                f"publish it again or clear its outputs")
    return None

_BAR = re.compile(r'\d+%\|.*\|\s*\d+/\d+|\d+it \[|it/s\]|s/it\]')

_ANSI = re.compile(r'\x1b\[[0-9;]*[A-Za-z]')

def strip_progress(outputs:list) -> list:
    "`outputs` without tqdm's progress bars: in a notebook they are redrawn with carriage returns (nested bars with cursor moves), and the stream keeps every frame. Other text stays."
    kept = []
    for o in outputs:
        if o.get('output_type') == 'stream':
            text = ''.join(o.get('text', ''))
            lines = [seg for line in text.split('\n') for seg in [_ANSI.sub('', line.split('\r')[-1])] if not _BAR.search(line)]
            if o.get('name') == 'stderr': lines = [l for l in lines if l.strip()]   # what a bar leaves behind when it clears itself
            text = '\n'.join(lines)
            if not text.strip(): continue
            o = {**o, 'text': text if text.endswith('\n') else text + '\n'}
        kept.append(o)
    return kept

def shrink_png(data:str, meta:dict|None=None) -> str:
    "A base64 PNG made smaller for the repository: drawn at the size it is shown at (matplotlib's inline backend draws at twice that), in 256 colours; the original if that is not smaller."
    import base64, io
    from PIL import Image
    raw = base64.b64decode(data)
    im = Image.open(io.BytesIO(raw))
    shown = (meta or {}).get('width'), (meta or {}).get('height')
    if all(shown) and im.width >= 1.5 * shown[0]: im = im.resize((int(shown[0]), int(shown[1])), Image.LANCZOS)
    if im.mode in ('RGBA', 'LA'):
        flat = Image.new('RGB', im.size, 'white'); flat.paste(im, mask=im.getchannel('A')); im = flat
    buf = io.BytesIO()
    im.convert('RGB').quantize(256).save(buf, format='PNG', optimize=True)
    small = base64.b64encode(buf.getvalue()).decode()
    return small if len(small) < len(data) else data

def shrink_images(outputs:list) -> list:
    "`outputs` with every PNG passed through `shrink_png`."
    for o in outputs:
        d = o.get('data', {})
        if 'image/png' in d: d['image/png'] = shrink_png(d['image/png'], o.get('metadata', {}).get('image/png'))
    return outputs

def publish(run_path, lesson_path, mode:str, wall_s:float, device:str, commit:str, precision:str|None=None):
    run, lesson = (json.loads(Path(p).read_text()) for p in (run_path, lesson_path))
    if mode not in ('cpu', 'gpu'): sys.exit(f"refusing to publish a {mode}-mode run: lessons carry the outputs of cpu- or gpu-mode runs only")
    if code_cells(run) != code_cells(lesson):
        sys.exit(f"{run_path} was run from other code than {lesson_path} has now: run the lesson again, then publish")
    if any(o.get('output_type') == 'error' for c in run['cells'] for o in c.get('outputs', [])):
        sys.exit(f"{run_path} stopped with an error: fix it and run again")
    runs = iter(c for c in run['cells'] if c['cell_type'] == 'code')
    for cell in lesson['cells']:
        if cell['cell_type'] != 'code': continue
        cell['outputs'] = shrink_images(strip_progress(next(runs).get('outputs', [])))
        cell['execution_count'] = None
    lesson.setdefault('metadata', {})[RECORD] = dict(mode=mode, device=device, commit=commit, wall_s=round(wall_s), **({'precision': precision} if precision else {}),
                                                     date=datetime.date.today().isoformat(), code_hash=code_hash(lesson))
    Path(lesson_path).write_text(json.dumps(lesson, indent=1, ensure_ascii=False) + '\n')
    size = Path(lesson_path).stat().st_size
    print(f"published {run_path} into {lesson_path}: {mode} mode, {device}, commit {commit}, {wall_s:.0f} s; notebook now {size / 1e3:.0f} kB")

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('run'); ap.add_argument('lesson')
    ap.add_argument('--mode', required=True); ap.add_argument('--wall', type=float, required=True)
    ap.add_argument('--device', required=True); ap.add_argument('--commit', required=True)
    ap.add_argument('--precision', default=None, help="lesson 04's precision_for(device) on the machine that ran it: bf16, fp16 or fp32")
    a = ap.parse_args()
    publish(a.run, a.lesson, a.mode, a.wall, a.device, a.commit, a.precision)
