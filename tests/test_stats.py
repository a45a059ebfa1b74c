"The statistics of miniai.fid that later lessons use to judge comparisons: paired t-intervals over training seeds, declared plans, rank agreement."
import math
import numpy as np
import pytest
from miniai.fid import t_quantile, paired_interval, Comparisons, kendall_tau

def test_t_quantile_matches_the_tables():
    for p, df, want in [(0.975, 1, 12.7062), (0.975, 2, 4.3027), (0.975, 4, 2.7764), (0.995, 9, 3.2498), (0.975, 10_000, 1.9602), (0.025, 3, -3.1824)]:
        assert t_quantile(p, df) == pytest.approx(want, abs=1e-4)
    with pytest.raises(ValueError, match='df must be at least 1'): t_quantile(0.9, 0.5)

def test_paired_interval_verdicts():
    r = paired_interval([10.0, 11.0, 10.5, 10.2], [12.0, 12.5, 12.1, 12.4], names=('A', 'B'))
    assert r.verdict == 'A better' and r.hi < 0 < -r.lo and r.n == 4 and r.diff == pytest.approx(-1.825)
    assert paired_interval([10.0, 12.0, 11.0], [11.0, 11.0, 11.5]).verdict == 'tie'
    hi = paired_interval({0: 0.9, 1: 0.8, 2: 0.85}, {2: 0.7, 1: 0.7, 0: 0.75}, lower_is_better=False, names=('A', 'B'))
    assert hi.verdict == 'A better'
    per_sampling_seed = paired_interval({0: [1., 3.], 1: [2., 2.], 2: [4., 2.]}, {0: 1., 1: 1., 2: 2.})   # lists are averaged
    assert per_sampling_seed.diff == pytest.approx(1.0)

def test_paired_interval_refuses_too_few_or_unmatched_seeds():
    with pytest.raises(ValueError, match='a headline comparison needs at least 3'): paired_interval([1., 2.], [1.5, 2.5])
    assert paired_interval([1., 2.], [1.5, 2.7], allow_few_seeds=True).n == 2
    one = paired_interval([1.], [2.], allow_few_seeds=True)                     # a quick-mode smoke run: no interval, no verdict
    assert one.verdict.startswith('undecided') and one.diff == -1. and math.isnan(one.lo)
    with pytest.raises(ValueError, match='needs at least 3'): paired_interval([1.], [2.])
    with pytest.raises(ValueError, match='the same training seeds'): paired_interval({0: 1., 1: 2., 2: 3.}, {0: 1., 1: 2., 3: 3.})
    with pytest.raises(ValueError, match='NaN or infinite'): paired_interval([1., float('nan'), 2.], [1., 2., 3.])

def _noise(rs, n_sim, n_seeds, shared_sd):
    shared = rs.normal(0, shared_sd, (n_sim, n_seeds))
    return 50 + shared + rs.normal(0, 1, (n_sim, n_seeds)), 50 + shared + rs.normal(0, 1, (n_sim, n_seeds))

def test_false_positive_rate_is_alpha_and_the_old_rule_is_not():
    "On pure noise, the t-interval names a winner in about alpha of experiments; 'twice the standard error with 2 seeds' in far more."
    rs, n_sim = np.random.default_rng(0), 3_000
    tol = 4 * math.sqrt(0.05 * 0.95 / n_sim)
    for n_seeds in (3, 5):
        a, b = _noise(rs, n_sim, n_seeds, 2.)
        fp = np.mean([paired_interval(x, y).verdict != 'tie' for x, y in zip(a, b)])
        assert abs(fp - 0.05) < tol, (n_seeds, fp)
    a, b = _noise(rs, n_sim, 3, 2.)
    fp10 = np.mean([paired_interval(x, y, alpha=0.1).verdict != 'tie' for x, y in zip(a, b)])
    assert abs(fp10 - 0.1) < 4 * math.sqrt(0.1 * 0.9 / n_sim)
    a, b = _noise(rs, n_sim, 2, 2.)
    d = a - b
    old_paired = np.mean(np.abs(d.mean(1)) > 2 * d.std(1, ddof=1) / math.sqrt(2))   # lesson 12's rule
    a, b = _noise(rs, n_sim, 2, 0.)
    se = np.sqrt(a.var(1, ddof=1) / 2 + b.var(1, ddof=1) / 2)
    old_combined = np.mean(np.abs(a.mean(1) - b.mean(1)) > 2 * se)                # lesson 16's rule
    assert old_paired > 0.2 and old_combined > 0.12, (old_paired, old_combined)

def test_comparisons_are_declared_before_results():
    plan = Comparisons().add('A beats B', 'A', 'B').add('A beats C', 'A', ('C', 4))
    assert plan.arms == ['A', 'B', ('C', 4)]
    scores = {'A': [10.0, 11.0, 10.5, 10.2], 'B': [12.0, 12.5, 12.1, 12.4], ('C', 4): [10.4, 11.1, 10.2, 10.9]}
    with pytest.raises(KeyError, match='no declared comparison uses'): plan.evaluate({**scores, 'D': [1., 2., 3.]})
    with pytest.raises(KeyError, match='no results for the declared arm'): plan.evaluate({'A': scores['A'], 'B': scores['B']})
    table = plan.evaluate(lambda arm: scores[arm])
    assert list(table.verdict) == ['A better', 'tie'] and list(table.comparison) == ['A beats B', 'A beats C']
    with pytest.raises(RuntimeError, match='declared before results are seen'): plan.add('B beats C', 'B', ('C', 4))
    with pytest.raises(ValueError, match='already declared'): Comparisons().add('x', 'A', 'B').add('x', 'A', 'C')
    with pytest.raises(ValueError, match='needs at least 3'): Comparisons().add('x', 'A', 'B').evaluate({'A': [1., 2.], 'B': [2., 3.]})

def test_bonferroni_splits_alpha():
    plan = Comparisons(bonferroni=True)
    for i in range(5): plan.add(f'c{i}', 'A', f'B{i}')
    assert plan.alpha_each == pytest.approx(0.01) and 'at most 5% for the family' in plan.describe()
    rs = np.random.default_rng(1)
    scores = {arm: list(rs.normal(0, 1, 4)) for arm in plan.arms}
    assert plan.evaluate(scores).alpha.tolist() == pytest.approx([0.01] * 5)

def test_kendall_tau():
    assert kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == 1. and kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == -1.
    assert kendall_tau([1, 2, 3, 4], [1, 2, 4, 3]) == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match='same length'): kendall_tau([1, 2], [1, 2, 3])

def test_scores_by_arm_reads_a_long_table():
    pd = pytest.importorskip('pandas')
    from miniai.fid import scores_by_arm
    rows = [dict(method=m, calls=c, train_seed=t, sampling_seed=s, fid=10 * (m == 'B') + t + 0.1 * s)
            for m in ('A', 'B') for c in (4, 8) for t in range(3) for s in range(2)]
    lookup = scores_by_arm(pd.DataFrame(rows), ['method', 'calls'])
    assert lookup(('A', 4)) == {0: [0.0, 0.1], 1: [1.0, 1.1], 2: [2.0, 2.1]}
    table = Comparisons().add('A beats B at 8 calls', ('A', 8), ('B', 8)).evaluate(lookup)
    assert table.verdict[0] == 'A, 8 better' and table['diff'][0] == pytest.approx(-10)
    with pytest.raises(KeyError, match="no rows for the arm"): lookup(('C', 4))
