"""The side benches (loader, G-buffers, shadow maps) run on tiny sizes and report their keys."""

from neutex.bench.side import bench_gbuffer, bench_loader


def test_bench_loader_smoke():
    r = bench_loader(16, batch_size=2, batches=4, views=2, lights=4)
    assert r["name"] == "loader" and r["res"] == 16 and r["per_s"] > 0


def test_bench_gbuffer_smoke(egl):
    r = bench_gbuffer(32, frames=2, subdivisions=1)
    assert r["name"] == "gbuffer" and r["res"] == 32 and r["per_s"] > 0 and r["ms"] > 0
