"Lesson 04's one decision on precision and compile, by capability: each kind of machine mocked, so that every branch runs on any CPU."
import contextlib
from unittest import mock
import pytest
import torch, torch.nn as nn, torch.nn.functional as F
import miniai.accel as accel
from miniai.accel import (autocast_dtype, cpu_has_native_bf16, cuda_has_native_bf16, compile_pays, precision_for, has_compiler,
                          MixedPrecisionCB, CompileCB, CPU_COMPILE_MIN_STEPS)
from miniai.datasets import TensorLoader, DataLoaders
from miniai.learner import Learner, TrainCB, Callback

LONG = CPU_COMPILE_MIN_STEPS * 2

@pytest.fixture
def cpu_mode(monkeypatch): monkeypatch.setenv('MINIAI_MODE', 'cpu')

def cpu_flags(**flags): return mock.patch.object(accel, 'cpu_capabilities', return_value={'architecture': 'x86_64', 'avx2': True, **flags})

def test_bf16_on_a_cpu_with_bf16_units(cpu_mode):
    for flag in ('avx512_bf16', 'amx_bf16'):
        with cpu_flags(**{flag: True}), mock.patch.object(accel, 'has_compiler', return_value=True):
            assert cpu_has_native_bf16() == torch.ops.mkldnn._is_mkldnn_bf16_supported()   # the flag, and oneDNN able to use it
            if not cpu_has_native_bf16(): pytest.skip("this PyTorch's oneDNN has no bf16 kernels")
            assert autocast_dtype('cpu') == torch.bfloat16
            p = precision_for('cpu', steps=LONG)
            assert (p.dtype, p.autocast, p.grad_scaler, p.compile) == (torch.bfloat16, True, False, True)
            assert flag in p.why and p.record()['precision'] == 'bf16'
            assert [type(cb) for cb in p.callbacks()] == [MixedPrecisionCB, CompileCB]

def test_fp32_on_a_cpu_without_bf16_units(cpu_mode):
    with cpu_flags(avx512_f=True, avx512_bf16=False, amx_bf16=False):
        assert not cpu_has_native_bf16() and autocast_dtype('cpu') == torch.float32
        p = precision_for('cpu', steps=LONG, compile=False)
        assert (p.dtype, p.autocast, p.callbacks(), p.record()['precision']) == (torch.float32, False, [], 'fp32')
        assert 'no bf16' in p.why
        # MixedPrecisionCB left to choose does nothing there: the model computes in float32
        seen = []
        class Spy(Callback):
            order = MixedPrecisionCB.order + 1
            def after_loss(self, learn): seen.append(learn.preds.dtype)
        x, y = torch.randn(16, 4), torch.randn(16, 2)
        dls = DataLoaders(TensorLoader(x, y, batch_size=8), TensorLoader(x, y, batch_size=8))
        Learner(nn.Linear(4, 2), dls, F.mse_loss, cbs=[TrainCB(), MixedPrecisionCB(), Spy()]).fit(1, valid=False)
        assert seen == [torch.float32, torch.float32]

def test_fp16_with_a_grad_scaler_on_cuda_without_native_bf16():
    calls = []
    def is_bf16_supported(including_emulation=True): calls.append(including_emulation); return including_emulation   # a T4: emulated only
    with mock.patch('torch.cuda.is_bf16_supported', is_bf16_supported), mock.patch('torch.cuda.device', lambda d: contextlib.nullcontext()):
        assert not cuda_has_native_bf16('cuda') and calls == [False]   # emulated bf16 must not count
        assert autocast_dtype('cuda') == torch.float16
        with mock.patch.object(accel, 'has_compiler', return_value=True): p = precision_for('cuda', steps=100)
    assert (p.dtype, p.grad_scaler, p.compile) == (torch.float16, True, True)
    cbs = p.callbacks()
    assert isinstance(cbs[0], MixedPrecisionCB) and cbs[0].dtype == torch.float16
    with mock.patch.object(accel, 'cuda_has_native_bf16', return_value=True): assert autocast_dtype('cuda') == torch.bfloat16

def test_no_compile_without_a_compiler(cpu_mode):
    with mock.patch.object(accel, 'has_compiler', return_value=False):
        p = precision_for('cpu', steps=LONG)
        assert not p.compile and not compile_pays('cpu', LONG) and 'no C++ compiler' in p.why
        assert not precision_for('cuda', steps=LONG, bf16=True).compile
    def no_cxx(): raise RuntimeError('no g++')
    with mock.patch('torch._inductor.cpp_builder.get_cpp_compiler', no_cxx): assert not has_compiler.__wrapped__('cpu')
    with mock.patch('torch._inductor.cpp_builder.get_cpp_compiler', lambda: 'g++'): assert has_compiler.__wrapped__('cpu')

def test_compile_on_a_cpu_only_where_it_pays(monkeypatch):
    with mock.patch.object(accel, 'has_compiler', return_value=True):
        monkeypatch.setenv('MINIAI_MODE', 'cpu')
        assert compile_pays('cpu', LONG) and compile_pays('cpu') and not compile_pays('cpu', CPU_COMPILE_MIN_STEPS - 1)
        monkeypatch.setenv('MINIAI_MODE', 'quick')
        assert not compile_pays('cpu', LONG) and 'quick mode' in precision_for('cpu', steps=LONG).why
        assert compile_pays('cuda', 10)          # quick mode on a GPU still tests the compiled path
        assert not compile_pays('mps', LONG)
        assert precision_for('cpu', steps=10, compile=True).compile and 'asked for' in precision_for('cpu', compile=True).why

def test_overrides_win():
    with cpu_flags(avx512_bf16=False):
        assert precision_for('cpu', bf16=True, compile=False).dtype == torch.bfloat16
    with cpu_flags(avx512_bf16=True):
        assert precision_for('cpu', bf16=False, compile=False).dtype == torch.float32

def test_compile_cb_drops_the_last_partial_batch_for_the_fit():
    x, y = torch.randn(20, 4), torch.randn(20, 2)
    dl = TensorLoader(x, y, batch_size=8)                       # 8 + 8 + 4
    cb = CompileCB(backend='eager')
    assert (len(dl), cb.train_batches(dl), CompileCB(drop_last=False, backend='eager').train_batches(dl)) == (3, 2, 3)
    sizes = []
    class Spy(Callback):
        def before_batch(self, learn):
            if learn.training: sizes.append(len(learn.batch[0]))
    learn = Learner(nn.Linear(4, 2), DataLoaders(dl, TensorLoader(x, y, batch_size=8)), F.mse_loss, cbs=[TrainCB(), cb, Spy()])
    learn.fit(2)
    assert sizes == [8, 8, 8, 8] and not dl.drop_last             # one shape while training; the loader is given back as it was
    assert learn.model._compiled_call_impl is not None
