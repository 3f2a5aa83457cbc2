"""The suite runner end to end on tiny data: variants train one after another into
DIR/runs/<variant>, share one prepared dataset per split, are evaluated, summarised; a re-run
skips finished variants and resumes an interrupted one."""

import json

import pytest
from rich.console import Console

from neutex.errors import ConfigError, NeutexError
from neutex.experiment.runner import run_suite, train_flags
from neutex.experiment.suite import load_suite


def _console():
    return Console(stderr=True, width=120, record=True)


def test_suite_end_to_end_then_rerun_skips(tmp_path, tiny_prepared, suite_file):
    suite, src = load_suite(suite_file({"multiply": {"model.conditioning": "multiply"},
                                        "concat": {"model": {"conditioning": "concat"}}}))
    out = tmp_path / "exp"
    res = run_suite(suite, out, tiny_prepared, "tiny", console=_console(), progress=False, source=src)
    assert res.interrupted is None and res.report == out / "report.html"
    s = json.loads((out / "summary.json").read_text())
    assert s["suite"]["name"] == "tiny" and s["scale"] == "tiny"
    assert [v["name"] for v in s["variants"]] == ["multiply", "concat"]
    for v in s["variants"]:
        assert v["status"] == "trained"
        assert (out / v["run"] / "eval.json").is_file()
        assert v["config"]["model"]["conditioning"] == v["name"]
        assert v["config"]["data"]["path"] == str(tiny_prepared)  # the given prepared dataset, shared
        assert set(v["buckets"]) == {"train", "novel_light", "novel_view", "novel_both"}
        for b in ("novel_light", "novel_view", "novel_both"):
            assert set(v["baselines"]["nearest_light"][b]) >= {"psnr", "psnr_tonemapped", "ssim", "mae", "mse"}
        assert "sweep" in v["temporal"] and v["val_per_epoch"] and "sweep" in v["val_per_epoch"][-1]["temporal"]
        assert v["commands"]["train"].startswith("neutex train --data ") and "--model.conditioning" in v["commands"]["train"] \
            or v["name"] == "multiply"
        assert v["wall_s"]["train"] > 0 and v["wall_s"]["eval"] > 0
    assert s["winners"]["buckets"]["novel_light"]["psnr"]["variant"] in ("multiply", "concat")
    assert "nearest light" not in s["variants"][0]  # baselines live under the variant's "baselines"
    assert len(s["fixed_frames"]["v3of4-l3of4"]["novel_light"]) == 2
    assert set(s["stripes"]) == {"multiply", "concat"}
    assert not (out / "prepared").exists()  # the given prepared dataset matched the split
    files = s["report"]["files"]
    for rel in [*files["grids"]["v3of4-l3of4"].values(), files["videos"][0]["file"], files["plots"]["loss"]]:
        assert (out / rel).is_file() and (out / rel).stat().st_size > 0
    html = (out / "report.html").read_text()
    assert "nearest-light baseline" in html and "<video" in html and "neutex train --data" in html

    # a re-run skips both (no training) and rewrites the summary
    con = _console()
    mtime = (out / "runs" / "multiply" / "eval.json").stat().st_mtime_ns
    res2 = run_suite(suite, out, tiny_prepared, "tiny", console=con, progress=False, report=False)
    text = con.export_text()
    assert text.count("skipping") == 2 and "training" not in text
    assert (out / "runs" / "multiply" / "eval.json").stat().st_mtime_ns == mtime
    assert [v["status"] for v in res2.summary["variants"]] == ["skipped", "skipped"]
    assert res2.summary["variants"][0]["wall_s"]["train"] > 0  # kept from the first run


def test_interrupted_variant_resumes(tmp_path, tiny_prepared, suite_file):
    suite, _ = load_suite(suite_file({"a": {}, "b": {"model.conditioning": "concat"}}))
    out = tmp_path / "exp"
    res = run_suite(suite, out, tiny_prepared, "tiny", overrides={"schedule.stop_after": 3}, console=_console(),
                    progress=False, report=False)
    assert res.interrupted == "a" and res.summary is None
    run_a = out / "runs" / "a"
    assert (run_a / "checkpoints" / "last.pt").is_file() and not (run_a / "eval.json").exists()
    assert not (out / "runs" / "b").exists() and not (out / "summary.json").exists()

    con = _console()
    res = run_suite(suite, out, tiny_prepared, "tiny", console=con, progress=False, report=False)
    text = con.export_text()
    assert res.interrupted is None
    assert "resuming" in text
    assert [v["status"] for v in res.summary["variants"]] == ["trained", "trained"]
    rows = [json.loads(l) for l in (run_a / "metrics.jsonl").read_text().splitlines()]
    its = [r["iteration"] for r in rows if r.get("kind") == "train"]
    assert its == sorted(its) and len(its) == len(set(its))  # resumed, not restarted
    assert max(its) == 2 * 4  # tiny: 2 epochs x 4 pairs per epoch
    assert (run_a / "eval.json").is_file() and (out / "runs" / "b" / "eval.json").is_file()


def test_other_settings_in_an_existing_run_are_refused(tmp_path, tiny_prepared, suite_file):
    out = tmp_path / "exp"
    suite, _ = load_suite(suite_file({"a": {}}))
    run_suite(suite, out, tiny_prepared, "tiny", overrides={"schedule.stop_after": 1}, console=_console(),
              progress=False, report=False)
    suite2, _ = load_suite(suite_file({"a": {"model.conditioning": "concat"}}, name="tiny"))
    with pytest.raises(ConfigError, match="model.conditioning"):
        run_suite(suite2, out, tiny_prepared, "tiny", console=_console(), progress=False, report=False)


def test_capture_is_prepared_once_per_split(tmp_path, tiny_capture, suite_file):
    suite, _ = load_suite(suite_file({"a": {}, "b": {"model.conditioning": "concat"},
                                      "c": {"split": {"light_fraction": 0.5}}}))
    out = tmp_path / "exp"
    con = _console()
    res = run_suite(suite, out, tiny_capture, "tiny", console=con, progress=False, report=False)
    assert sorted(p.name for p in (out / "prepared").iterdir()) == ["v3of4-l1of2", "v3of4-l3of4"]
    text = con.export_text()
    assert text.count("prepare v3of4-l3of4: done") == 1 and text.count("prepare v3of4-l1of2: done") == 1
    paths = {v["name"]: v["config"]["data"]["path"] for v in res.summary["variants"]}
    assert paths["a"] == paths["b"] == str(out / "prepared" / "v3of4-l3of4")
    assert paths["c"] == str(out / "prepared" / "v3of4-l1of2")
    splits = res.summary["data"]["splits"]
    assert splits["v3of4-l1of2"]["counts"]["novel_light"] == 3 * 4
    assert "--light-fraction 0.5" in splits["v3of4-l1of2"]["command"]


def test_train_flags_reproduce_the_config(tmp_path, suite_file):
    from neutex.config import config_from_dict, config_to_dict
    from neutex.experiment.runner import _cmd
    from neutex.experiment.suite import resolve_variants
    from neutex.train.command import TrainCommand

    import tyro

    suite, _ = load_suite(suite_file({"a": {"loss.gan": True, "optim.milestones": [2, 4], "schedule.epochs": None}}))
    rv = resolve_variants(suite, tmp_path, "tiny")[0]
    flags = train_flags(rv.config)
    cmd = tyro.cli(TrainCommand, args=["--data", str(rv.config.data.path), "--out", str(rv.config.out), *flags])
    got = config_to_dict(config_from_dict(type(rv.config).__mro__[0], config_to_dict(cmd)))
    want = config_to_dict(rv.config)
    assert got == want, _cmd(flags)


def test_log_lines_print_user_text_as_is():
    """Paths and names are the user's: '[...]' in them is text, not rich markup."""
    from neutex.experiment.runner import _Log

    con = _console()
    log = _Log(con)
    log("prepare: reusing /data/scan [v2]/prepared, images/[red]x[/red].exr, camera [/bold]", "yellow")
    log("[2/3] b: training")
    text = con.export_text()
    assert "/data/scan [v2]/prepared, images/[red]x[/red].exr, camera [/bold]" in text
    assert "[2/3] b: training" in text


def test_a_damaged_file_in_the_experiment_folder_is_an_error_not_a_fresh_start(tmp_path, tiny_prepared, suite_file):
    """A corrupt timings.json (or any JSON the runner reads) stops the run with one line naming
    it; only a missing file means "not there yet"."""
    suite, _ = load_suite(suite_file({"multiply": {}}))
    out = tmp_path / "exp"
    out.mkdir()
    (out / "timings.json").write_text('{"variants": {')
    with pytest.raises(NeutexError, match=r"timings\.json: invalid JSON at line 1") as info:
        run_suite(suite, out, tiny_prepared, "tiny", console=_console(), progress=False, report=False)
    assert info.value.hint
