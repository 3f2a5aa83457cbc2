"""The side benches (loader, G-buffers, shadow maps) run on tiny sizes and report their keys."""

from neutex.bench.side import bench_gbuffer, bench_loader, bench_shadow


def test_bench_loader_smoke():
    r = bench_loader(16, batch_size=2, batches=4, views=2, lights=4)
    assert r["name"] == "loader" and r["res"] == 16 and r["per_s"] > 0


def test_bench_gbuffer_smoke(egl):
    r = bench_gbuffer(32, frames=2, subdivisions=1)
    assert r["name"] == "gbuffer" and r["res"] == 32 and r["per_s"] > 0 and r["ms"] > 0


def test_bench_shadow_smoke(egl):
    r = bench_shadow(map_res=32, res=16, batches=(1,), repeats=1, detail=0.3)
    assert r["name"] == "shadow" and r["faces"] > 0 and r["map_ms"] > 0 and r["visibility_ms"][1] > 0
