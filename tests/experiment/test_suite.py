"""Suites: YAML loading (unknown keys are one-line errors naming the key), the built-in
registry, override order, splits."""

import pytest
import yaml

from neutex.config import flatten_overrides
from neutex.errors import ConfigError
from neutex.experiment.suite import (
    SCALES,
    SplitSpec,
    apply_overrides,
    load_suite,
    resolve_variants,
    suites,
    validate_suite,
)


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg, msg
    return msg


def _load_error(tmp_path, body) -> str:
    """Load a suite file named bad.yaml holding ``body``; the one-line ConfigError it raises."""
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"name": "bad", **body}))
    with pytest.raises(ConfigError) as exc:
        load_suite(path)
    return _one_line(exc)


@pytest.mark.parametrize("name", list(suites))
def test_builtin_suites_resolve_at_every_scale(name, tmp_path):
    suite = suites[name]
    validate_suite(suite)
    for scale in SCALES:
        rvs = resolve_variants(suite, tmp_path, scale)
        assert [r.name for r in rvs] == list(suite.variants)
        for r in rvs:
            assert str(r.config.out) == str(tmp_path / "runs" / r.name)
            assert str(r.config.data.path) == str(tmp_path / "prepared" / r.split.name)


def test_builtin_suites_match_the_issue():
    o = {r.name: r for r in resolve_variants(suites["origin"], "D", "small")}
    assert o["exp1_multiply"].config.model.conditioning == "multiply"
    assert o["exp2_concat"].config.model.conditioning == "concat"
    assert o["exp1_multiply"].split == o["exp2_concat"].split == SplitSpec(0.875, 0.125)
    assert o["exp1_gan"].config.loss.gan and not o["exp1_multiply"].config.loss.gan
    assert o["exp1_lights7of8"].split == SplitSpec(0.875, 0.875)
    g = resolve_variants(suites["generalisation"], "D", "small")
    assert {(r.split.view_fraction, r.split.light_fraction) for r in g} == {
        (v, l) for v in (0.5, 0.75, 0.875) for l in (0.125, 0.25, 0.875)}
    r = {x.name: x.config.remedies for x in resolve_variants(suites["remedies"], "D", "small")}
    assert r["baseline"].ema == 0 and r["ema"].ema > 0 and r["smooth"].light_smoothness > 0
    assert r["ema_smooth"].ema > 0 and r["ema_smooth"].light_smoothness > 0
    d = {x.name: x.config.model for x in resolve_variants(suites["demo"], "D", "small")}
    assert list(d) == ["neutex", "exp1", "exp2"]
    assert d["exp1"].inputs == d["exp2"].inputs == ("normal", "light_dir", "view_dir")
    assert d["exp1"].conditioning == "multiply" and d["exp2"].conditioning == "concat"
    assert d["neutex"].uses_residual and d["neutex"].shadows and d["neutex"].uses_photo_init
    # the scale overrides the preset's model defaults (the origin's 512² texture -> resolved from the data)
    assert d["exp1"].texture_res is None and d["exp1"].unet_depth == 4
    c = {x.name: x.config.model for x in resolve_variants(suites["cues"], "D", "small")}
    assert list(c) == ["exp1", "exp2", "diffuse", "specular", "shadows", "photo_init", "residual"]
    assert not c["specular"].shadows and c["shadows"].shadows and not c["shadows"].uses_photo_init
    assert c["photo_init"].uses_photo_init and not c["photo_init"].uses_residual and c["residual"].uses_residual


def test_override_order_scale_base_variant(suite_file):
    path = suite_file({"a": {}, "b": {"schedule.epochs": 5}}, base={"schedule": {"epochs": 3}, "model.unet_width": 6},
                      scales={"tiny": {"model.unet_width": 12}})
    suite, _ = load_suite(path)
    a, b = resolve_variants(suite, "D", "tiny")
    assert a.config.schedule.epochs == 3  # base beats the scale
    assert b.config.schedule.epochs == 5  # the variant beats the base
    assert a.config.model.unet_width == 12  # the suite's own scale section beats its base
    assert resolve_variants(suite, "D", "small")[0].config.model.unet_width == 6


def test_variant_split_shares_or_splits(suite_file):
    path = suite_file({"a": {}, "b": {"model.conditioning": "concat"}, "c": {"split": {"light_fraction": 0.5}},
                       "d": {"split.view_fraction": 0.5}})
    suite, _ = load_suite(path)
    rv = resolve_variants(suite, "D", "tiny")
    names = [r.split.name for r in rv]
    assert names[0] == names[1] == "v3of4-l3of4"
    assert names[2] == "v3of4-l1of2" and names[3] == "v1of2-l3of4"


@pytest.mark.parametrize("body, key", [
    ({"variants": {"a": {"model": {"conditoning": "concat"}}}}, "conditoning"),
    ({"variants": {"a": {"schedule.epoch": 2}}}, "schedule.epoch"),
    ({"variants": {"a": {}}, "base": {"modle.unet_width": 4}}, "modle"),
    ({"variants": {"a": {}}, "varaints": {}}, "varaints"),
    ({"variants": {"a": {"split": {"light_fractoin": 0.5}}}}, "light_fractoin"),
    ({"variants": {"a": {}}, "split": {"views": 0.5}}, "views"),
    ({"variants": {"a": {}}, "scales": {"huge": {}}}, "huge"),
    ({"variants": {"a": {}}, "scene_overrides": {"lights": 2}}, "lights"),
])
def test_unknown_key_is_one_line_naming_it(tmp_path, body, key):
    msg = _load_error(tmp_path, body)
    assert key in msg and "bad.yaml" in msg


@pytest.mark.parametrize("body, text", [
    ({"variants": {"a": {"model.conditioning": "add"}}}, "model.conditioning"),
    ({"variants": {"a": {"out": "elsewhere"}}}, "set by the experiment runner"),
    ({"variants": {"a": {"model": 3}}}, "group of settings"),
    ({"variants": {}}, "variants"),
    ({"variants": {"a b": {}}}, "variant name"),
    ({"variants": {"a": {}}, "split": {"light_fraction": 1.5}}, "light_fraction"),
])
def test_invalid_values_are_one_line(tmp_path, body, text):
    assert text in _load_error(tmp_path, body)


def test_invalid_yaml_and_unknown_suite(tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text("variants: {a: [\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_suite(p)
    with pytest.raises(ConfigError, match="neither a built-in suite"):
        load_suite("no-such-suite")


def test_cli_reports_unknown_key_in_one_red_line(tmp_path, capsys, suite_file):
    from neutex.cli import entrypoint

    path = suite_file({"a": {"model.conditoning": "concat"}})
    assert entrypoint(["experiment", str(path), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "model.conditoning" in lines[0]
    assert not (tmp_path / "x").exists()


def test_flatten_and_apply():
    flat = flatten_overrides({"a": {"b": 1, "c.d": 2}, "e": 3}, "w")
    assert flat == {"a.b": 1, "a.c.d": 2, "e": 3}
    tree = apply_overrides({"a": {"b": 0, "c": {"d": 0}}, "e": 0}, flat, "w")
    assert tree == {"a": {"b": 1, "c": {"d": 2}}, "e": 3}
    with pytest.raises(ConfigError, match=r"w\.a\.x: unknown key 'a\.x' \(known here: b, c\)"):
        apply_overrides({"a": {"b": 0, "c": {}}}, {"a.x": 1}, "w")
