from __future__ import annotations

from loadtests.png_bench import SCALES, report, run


def test_bench_measures_both_paths_at_every_scale() -> None:
    figures = run(count=3)
    assert [f.scale for f in figures] == list(SCALES)
    for f in figures:
        assert f.count == 3
        assert 0 < f.p50_ms <= f.p99_ms
        assert 0 < f.cairosvg_p50_ms <= f.cairosvg_p99_ms
        assert f.cpu_p50_ms > 0 and f.cairosvg_cpu_p50_ms > 0
        assert f.speedup == f.cairosvg_p50_ms / f.p50_ms
    assert report(figures).count("x  ") == len(SCALES)
