"""Experiment suites: a base config, named variants and a split, as typed dataclasses; the
built-in suites (:data:`suites`, nerfstudio-style registry) and the scales
(:data:`SCALES`); YAML loading that rejects unknown keys; and the resolution of a variant
into a :class:`~neutex.train.config.TrainConfig`.

A suite file (docs/experiments.md)::

    name: mine
    description: multiply vs concat on the demo scene
    split: {view_fraction: 0.875, light_fraction: 0.125}
    base:
      loss.perceptual: auto            # dotted keys ...
      schedule: {val_images: 8}        # ... or nested mappings
    variants:
      multiply: {model.conditioning: multiply}
      concat:
        description: origin exp2
        model: {conditioning: concat}
        split: {light_fraction: 0.875}  # this variant gets its own prepared dataset

Overrides apply in this order: ``TrainConfig`` defaults, the scale (:data:`SCALES`), the
suite's ``base``, the suite's own ``scales[<scale>]``, the variant.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal, get_args

from neutex.config import config_from_dict, config_to_dict, flatten_overrides
from neutex.errors import ConfigError
from neutex.model.config import model_configs
from neutex.synth.config import PRESETS, preset_config
from neutex.train.config import TrainConfig

ScaleName = Literal["tiny", "small", "full"]
CheckpointChoice = Literal["last", "best"]

#: TrainConfig fields that the runner sets itself; a suite may not set them.
RUNNER_KEYS = ("out", "data.path", "resume")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


# ----------------------------------------------------------------------------- overrides


def apply_overrides(tree: dict[str, Any], overrides: dict[str, Any], where: str) -> dict[str, Any]:
    """Set dotted keys in a nested config dict (a copy); an unknown key is a :class:`ConfigError`
    that names it and lists the keys known at that level."""
    tree = copy.deepcopy(tree)
    for key, value in flatten_overrides(overrides, where).items():
        parts = key.split(".")
        node = tree
        for i, p in enumerate(parts):
            if not isinstance(node, dict) or p not in node:
                known = ", ".join(sorted(node)) if isinstance(node, dict) else "none: not a group"
                raise ConfigError(f"{where}.{key}: unknown key {'.'.join(parts[:i + 1])!r} (known here: {known})")
            if i == len(parts) - 1:
                if isinstance(node[p], dict):
                    raise ConfigError(f"{where}.{key}: is a group of settings; set its fields "
                                      f"({', '.join(sorted(node[p]))})")
                node[p] = value
            else:
                node = node[p]
    return tree


def preset_model_dict(name: Any, where: str) -> dict[str, Any]:
    """The model config of a named preset (:data:`neutex.model.config.model_configs`) as a dict."""
    if name not in model_configs:
        raise ConfigError(f"{where}: unknown model preset {name!r} (known: {', '.join(model_configs)})")
    return config_to_dict(model_configs[name])


# ----------------------------------------------------------------------------- splits


@dataclass(frozen=True)
class SplitSpec:
    """A seeded view/light split (``neutex prepare --view-fraction --light-fraction --seed``)."""

    view_fraction: float = 0.875
    """Fraction of views seen in training."""
    light_fraction: float = 0.875
    """Fraction of lights seen in training."""
    seed: int = 0
    """Seed of the split."""

    def __post_init__(self) -> None:
        for name in ("view_fraction", "light_fraction"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 1:
                raise ConfigError(f"split.{name}: must be a number in (0, 1], got {v!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigError(f"split.seed: must be an integer, got {self.seed!r}")

    @property
    def name(self) -> str:
        """Folder name of the prepared dataset: ``v7of8-l1of8`` (``-s3`` for seed 3).

        Examples:
            >>> SplitSpec(0.875, 0.125).name, SplitSpec(0.5, 1.0, 3).name
            ('v7of8-l1of8', 'v1of2-l1of1-s3')
        """
        def frac(x: float) -> str:
            f = Fraction(x).limit_denominator(64)
            return f"{f.numerator}of{f.denominator}" if abs(float(f) - x) < 1e-9 else f"{x:g}".replace(".", "p")

        return f"v{frac(self.view_fraction)}-l{frac(self.light_fraction)}" + (f"-s{self.seed}" if self.seed else "")

    def label(self) -> str:
        """Human text: ``7/8 views x 1/8 lights``."""
        def frac(x: float) -> str:
            f = Fraction(x).limit_denominator(64)
            return f"{f.numerator}/{f.denominator}" if abs(float(f) - x) < 1e-9 else f"{x:g}"

        return f"{frac(self.view_fraction)} views × {frac(self.light_fraction)} lights" + (
            f" (seed {self.seed})" if self.seed else "")

    def replace(self, changes: dict[str, Any] | None, where: str) -> SplitSpec:
        """A copy with some fields changed; unknown keys are an error naming them."""
        if not changes:
            return self
        if not isinstance(changes, dict):
            raise ConfigError(f"{where}: expected a mapping with view_fraction, light_fraction, seed")
        known = {f.name for f in dataclasses.fields(self)}
        for k in changes:
            if k not in known:
                raise ConfigError(f"{where}.{k}: unknown key (known: {', '.join(sorted(known))})")
        try:
            return dataclasses.replace(self, **changes)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None

    def matches(self, info: dict[str, Any]) -> bool:
        """Whether a prepared dataset's splits.json (seeded fractions) is this split."""
        try:
            return (info.get("view_fraction") is not None and abs(float(info["view_fraction"]) - self.view_fraction) < 1e-9
                    and abs(float(info["light_fraction"]) - self.light_fraction) < 1e-9
                    and int(info.get("seed") or 0) == self.seed)
        except (KeyError, TypeError, ValueError):
            return False


# ----------------------------------------------------------------------------- scales


@dataclass
class Scale:
    """Sizes and durations for one ``--scale``: training overrides and synthetic-scene overrides."""

    description: str
    """One line for --help and the report."""
    train: dict[str, Any] = field(default_factory=dict)
    """TrainConfig overrides (dotted keys)."""
    scene: dict[str, Any] = field(default_factory=dict)
    """SynthConfig overrides for the default scene (used only when the suite synthesises it)."""
    eval_max_images: int | None = 200
    """Images per bucket that ``evaluate_run`` measures (a fixed sample)."""


#: ``tiny``: a smoke test in seconds per variant; ``small``: sized for a 2-core CPU, about
#: 3 minutes per variant (the demo's sizes, measured in docs/experiments.md); ``full``: the
#: project defaults (512² texture, width-32 UNet, about 3000 iterations; a GPU's work).
SCALES: dict[str, Scale] = {
    "tiny": Scale(
        "smoke test: 2 short epochs, tiny texture and UNet, a smaller scene",
        train={"schedule.epochs": 2, "schedule.pairs_per_epoch": 8, "schedule.val_images": 2,
               "schedule.sweep_frames": 8, "schedule.log_every": 2, "schedule.probe_every": 4,
               "model.texture_res": 64, "model.unet_width": 8, "model.unet_depth": 3, "model.unet_max_width": 32,
               "threads": 1},
        scene={"lights_per_face": 2, "spp": 4, "sweep_frames": 24},
        eval_max_images=8),
    # small: 3000 iterations at 64² (~3.5 min per variant on a shared 2-core CPU). One torch
    # thread: on a busy 2-core machine two threads spin at OpenMP barriers (measured 300-550 ms
    # of CPU per iteration at 2 threads against 42 ms at 1). A 128² texture: Adam's dense update
    # of a 256² x 16 texture cost more than the UNet step at this image size.
    "small": Scale(
        "CPU-sized: about 3.5 minutes per variant on 2 cores (the demo's sizes)",
        train={"schedule.epochs": 12, "schedule.pairs_per_epoch": 250, "schedule.val_images": 8,
               "schedule.sweep_frames": 36, "schedule.log_every": 10, "schedule.probe_every": 100,
               "model.texture_res": None, "model.unet_width": 32, "model.unet_depth": 4, "model.unet_max_width": 128,
               "optim.milestones": [9], "threads": 1},
        eval_max_images=100),
    "full": Scale("project defaults (512² texture, width-32 UNet, ~3000 iterations): a GPU's work", eval_max_images=200),
}


# ----------------------------------------------------------------------------- suites


@dataclass
class VariantSpec:
    """One variant of a suite: TrainConfig overrides and, optionally, its own split."""

    overrides: dict[str, Any] = field(default_factory=dict)
    """TrainConfig overrides (dotted keys or nested mappings)."""
    description: str = ""
    """One line for the report."""
    split: dict[str, Any] = field(default_factory=dict)
    """Changes to the suite's split (view_fraction, light_fraction, seed) for this variant."""


@dataclass
class SuiteConfig:
    """A suite: variants trained one after another on one capture and (per split) one prepared
    dataset, each evaluated, then compared in one report."""

    name: str
    """Suite name (report title, summary.json)."""
    variants: dict[str, VariantSpec]
    """Named variants in run order; names become run folders (DIR/runs/<name>)."""
    description: str = ""
    """What the suite asks, in a sentence (top of the report)."""
    base: dict[str, Any] = field(default_factory=dict)
    """TrainConfig overrides shared by every variant."""
    split: SplitSpec = field(default_factory=SplitSpec)
    """The split of every variant that does not set its own."""
    scene: str = "demo"
    """Synthetic preset rendered into DIR/capture when no --data is given."""
    scene_overrides: dict[str, Any] = field(default_factory=dict)
    """SynthConfig changes to that preset."""
    scales: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per-scale TrainConfig overrides of this suite, applied after ``base``."""
    default_scale: ScaleName = "small"
    """Scale used when --scale is not given."""
    checkpoint: CheckpointChoice = "last"
    """Checkpoint evaluated: last (no selection on held-out data, the default) or best."""
    frames_per_bucket: int = 2
    """Fixed (view, light) frames per bucket shown in the report's image grids."""
    judge: tuple[str, ...] = ("psnr",)
    """What the summary ranks the variants on: psnr (held-out buckets), temporal (tDE_rel/J)."""

    def __post_init__(self) -> None:
        where = f"suite {self.name!r}"
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ConfigError(f"suite.name: {self.name!r} must be letters, digits, '_', '-', '.'")
        if not self.variants:
            raise ConfigError(f"{where}: variants: at least one variant is needed")
        for v in self.variants:
            if not isinstance(v, str) or not _NAME.match(v):
                raise ConfigError(f"{where}: variants.{v}: a variant name must be letters, digits, '_', '-', '.' "
                                  "(it names a folder)")
        if self.default_scale not in get_args(ScaleName):
            raise ConfigError(f"{where}: default_scale: {self.default_scale!r} is not one of {list(get_args(ScaleName))}")
        if self.checkpoint not in get_args(CheckpointChoice):
            raise ConfigError(f"{where}: checkpoint: {self.checkpoint!r} is not one of {list(get_args(CheckpointChoice))}")
        for s in self.scales:
            if s not in SCALES:
                raise ConfigError(f"{where}: scales.{s}: unknown scale (known: {', '.join(SCALES)})")
        for j in self.judge:
            if j not in ("psnr", "temporal"):
                raise ConfigError(f"{where}: judge: {j!r} is not one of ['psnr', 'temporal']")
        if not isinstance(self.frames_per_bucket, int) or self.frames_per_bucket < 1:
            raise ConfigError(f"{where}: frames_per_bucket: must be a positive integer, got {self.frames_per_bucket!r}")


@dataclass
class ResolvedVariant:
    """A variant made concrete for one run of a suite."""

    name: str
    description: str
    split: SplitSpec
    config: Any  # TrainConfig
    overrides: dict[str, Any]
    """The variant's own overrides (flat), for the report."""


def resolve_variants(suite: SuiteConfig, out: Path, scale: str, extra: dict[str, Any] | None = None,
                     prepared_for=None) -> list[ResolvedVariant]:
    """Every variant of ``suite`` as a validated TrainConfig (run folder DIR/runs/<variant>).

    Args:
        suite: the suite.
        out: the experiment folder DIR.
        scale: one of :data:`SCALES`.
        extra: overrides applied last to every variant (e.g. from the command line).
        prepared_for: ``split -> prepared dataset path``; default DIR/prepared/<split.name>.

    Raises:
        ConfigError: an unknown key, a runner-owned key, or an invalid value, naming the
            suite, the variant and the key.
    """
    if scale not in SCALES:
        raise ConfigError(f"--scale: {scale!r} is not one of {', '.join(SCALES)}")
    defaults = config_to_dict(TrainConfig())
    layers = [("scale " + scale, SCALES[scale].train), (f"{suite.name}.base", suite.base),
              (f"{suite.name}.scales.{scale}", suite.scales.get(scale, {}))]
    out_list = []
    for name, var in suite.variants.items():
        where = f"{suite.name}.variants.{name}"
        tree = defaults
        # a model preset (the last layer naming one wins) supplies the model defaults that every
        # layer then overrides, as --model.preset does on the command line
        flats = [(lw, flatten_overrides(layer, lw)) for lw, layer in [*layers, (where, var.overrides),
                                                                       ("--set", extra or {})]]
        named = [(flat["model.preset"], f"{lw}.model.preset") for lw, flat in flats if "model.preset" in flat]
        if named:
            tree = apply_overrides(tree, {"model": preset_model_dict(*named[-1])}, where)
        for lw, flat in flats:
            for k in flat:
                if k in RUNNER_KEYS:
                    raise ConfigError(f"{lw}.{k}: set by the experiment runner (runs go to DIR/runs/<variant>, "
                                      "data to DIR/prepared/<split>)")
            tree = apply_overrides(tree, flat, lw)
        split = suite.split.replace(var.split, f"{where}.split")
        data_path = prepared_for(split) if prepared_for else Path(out) / "prepared" / split.name
        tree["out"] = str(Path(out) / "runs" / name)
        tree["data"]["path"] = str(data_path)
        tree["resume"] = False
        try:
            cfg = config_from_dict(TrainConfig, tree, where="config")
        except ConfigError as exc:
            raise ConfigError(f"{where}: {str(exc).removeprefix('config.')}") from None
        out_list.append(ResolvedVariant(name, var.description, split, cfg, flatten_overrides(var.overrides, where)))
    return out_list


# ----------------------------------------------------------------------------- YAML


_SUITE_KEYS = {f.name for f in dataclasses.fields(SuiteConfig)}


def suite_from_dict(d: Any, where: str = "suite") -> SuiteConfig:
    """Build a :class:`SuiteConfig` from a parsed YAML mapping; unknown keys are errors."""
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: expected a mapping with name, base, variants")
    unknown = sorted(set(d) - _SUITE_KEYS)
    if unknown:
        raise ConfigError(f"{where}: {unknown[0]}: unknown key (known: {', '.join(sorted(_SUITE_KEYS))})")
    if "variants" not in d:
        raise ConfigError(f"{where}: variants: missing (a mapping of variant name -> overrides)")
    vs = d["variants"]
    if not isinstance(vs, dict) or not vs:
        raise ConfigError(f"{where}: variants: expected a non-empty mapping of variant name -> overrides")
    variants = {}
    for name, body in vs.items():
        body = {} if body is None else body
        if not isinstance(body, dict):
            raise ConfigError(f"{where}: variants.{name}: expected a mapping of overrides, got {type(body).__name__}")
        desc = body.get("description", "")
        flat = flatten_overrides({k: v for k, v in body.items() if k != "description"}, f"{where}: variants.{name}")
        split = {k.removeprefix("split."): v for k, v in flat.items() if k.startswith("split.")}
        ov = {k: v for k, v in flat.items() if not k.startswith("split.") and k != "split"}
        if "split" in flat:
            raise ConfigError(f"{where}: variants.{name}.split: expected a mapping with view_fraction, light_fraction, seed")
        variants[str(name)] = VariantSpec(ov, str(desc), split)
    kw: dict[str, Any] = {"variants": variants, "name": str(d.get("name", where))}
    if "split" in d:
        kw["split"] = SplitSpec().replace(d["split"] or {}, f"{where}: split")
    for key in ("description", "scene", "default_scale", "checkpoint"):
        if key in d:
            kw[key] = d[key]
    if "base" in d:
        kw["base"] = flatten_overrides(d["base"], f"{where}: base")
    if "scene_overrides" in d:
        if not isinstance(d["scene_overrides"], dict):
            raise ConfigError(f"{where}: scene_overrides: expected a mapping of SynthConfig fields")
        kw["scene_overrides"] = dict(d["scene_overrides"])
    if "scales" in d:
        if not isinstance(d["scales"], dict):
            raise ConfigError(f"{where}: scales: expected a mapping scale -> overrides")
        kw["scales"] = {str(k): flatten_overrides(v, f"{where}: scales.{k}") for k, v in d["scales"].items()}
    if "frames_per_bucket" in d:
        kw["frames_per_bucket"] = d["frames_per_bucket"]
    if "judge" in d:
        j = d["judge"]
        kw["judge"] = tuple([j] if isinstance(j, str) else j)
    try:
        suite = SuiteConfig(**kw)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if suite.scene not in PRESETS:
        raise ConfigError(f"{where}: scene: unknown synthetic preset {suite.scene!r} (known: {', '.join(PRESETS)})")
    validate_suite(suite, where)
    return suite


def validate_suite(suite: SuiteConfig, where: str | None = None) -> None:
    """Resolve every variant at every scale (without touching disk), so that an unknown key or a
    bad value fails at load time, naming the key."""
    for scale in SCALES:
        try:
            resolve_variants(suite, Path("DIR"), scale)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}" if where else str(exc)) from None

    try:
        for scale in SCALES.values():
            preset_config(suite.scene, **{**scale.scene, **suite.scene_overrides})
    except ConfigError as exc:
        raise ConfigError(f"{where or suite.name}: scene_overrides: {exc}") from None


def load_suite(spec: str | Path) -> tuple[SuiteConfig, str]:
    """A built-in suite name or a YAML file -> ``(suite, source)``.

    Raises:
        ConfigError: unknown name, unreadable file, invalid YAML, or an unknown key (one line
            naming the file and the key).
    """
    import yaml

    s = str(spec)
    if s in suites and not Path(s).is_file():
        return copy.deepcopy(suites[s]), f"built-in:{s}"
    path = Path(s)
    if not path.is_file():
        raise ConfigError(f"suite {s!r}: neither a built-in suite ({', '.join(suites)}) nor a YAML file")
    try:
        d = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"{path}: invalid YAML{at}: {getattr(exc, 'problem', None) or exc}") from None
    if isinstance(d, dict) and "name" not in d:
        d = {**d, "name": path.stem}
    return suite_from_dict(d, where=str(path)), str(path.resolve())


def suite_to_dict(suite: SuiteConfig) -> dict[str, Any]:
    """The suite as a plain mapping in the YAML format (for summary.json and the report)."""
    d: dict[str, Any] = {
        "name": suite.name, "description": suite.description, "scene": suite.scene,
        "split": dataclasses.asdict(suite.split), "base": dict(suite.base),
        "variants": {}, "default_scale": suite.default_scale, "checkpoint": suite.checkpoint,
        "frames_per_bucket": suite.frames_per_bucket, "judge": list(suite.judge),
    }
    if suite.scene_overrides:
        d["scene_overrides"] = dict(suite.scene_overrides)
    if suite.scales:
        d["scales"] = {k: dict(v) for k, v in suite.scales.items()}
    for name, v in suite.variants.items():
        body: dict[str, Any] = dict(v.overrides)
        if v.description:
            body["description"] = v.description
        if v.split:
            body["split"] = dict(v.split)
        d["variants"][name] = body
    return d


# ----------------------------------------------------------------------------- built-ins


def _generalisation_variants() -> dict[str, VariantSpec]:
    out = {}
    for vf, vname in ((0.5, "1/2"), (0.75, "3/4"), (0.875, "7/8")):
        for lf, lname in ((0.125, "1/8"), (0.25, "1/4"), (0.875, "7/8")):
            s = SplitSpec(vf, lf)
            out[s.name] = VariantSpec({}, f"the default model, trained on {vname} of the views x {lname} of the lights",
                                      {"view_fraction": vf, "light_fraction": lf})
    return out


#: Shared by the built-in suites (nothing beyond TrainConfig's defaults today). ``loss.perceptual``
#: stays ``auto``: VGG19 where its weights are found, else L1 + 0.1 (1 − SSIM).
_BUILTIN_BASE: dict[str, Any] = {}

def _cue_ladder() -> dict[str, VariantSpec]:
    """The fidelity ablation: the origin's two models, then one change at a time towards the
    default (docs/model.md)."""
    cues = ("diffuse", "ggx_0.05", "ggx_0.13", "ggx_0.34", "normal:concat", "view_dir:concat")
    bare = {"model.texture_init": "random", "model.shadows": False, "model.residual": False}
    return {
        "exp1": VariantSpec({"model.preset": "exp1"}, "origin exp1: texture x normal, light_dir, view_dir"),
        "exp2": VariantSpec({"model.preset": "exp2"}, "origin exp2: texture ++ normal, light_dir, view_dir"),
        "diffuse": VariantSpec({**bare, "model.inputs": ["diffuse", "normal:concat", "view_dir:concat"]},
                               "+ diffuse radiance cue (n·l E) x texture; normal, view dir concatenated"),
        "specular": VariantSpec({**bare, "model.inputs": list(cues)}, "+ GGX cues (α 0.05, 0.13, 0.34)"),
        "shadows": VariantSpec({**bare, "model.inputs": list(cues), "model.shadows": True},
                               "+ cast shadows (shadow maps) in the cues"),
        "photo_init": VariantSpec({**bare, "model.inputs": list(cues), "model.shadows": True,
                                   "model.texture_init": "photo"}, "+ texture initialised from the photographs"),
        "residual": VariantSpec({"model.preset": "neutex"}, "+ residual over the physically based base: the default"),
    }


#: Built-in suites (``neutex experiment NAME``).
suites: dict[str, SuiteConfig] = {
    "origin": SuiteConfig(
        name="origin",
        base=dict(_BUILTIN_BASE),
        description="The origin's experiments: exp1 multiply vs exp2 concat on 7/8 of the views x 1/8 of the "
                    "lights; GAN vs no GAN (multiply; the origin saw stripes without it); and multiply with "
                    "7/8 of the lights.",
        split=SplitSpec(0.875, 0.125),
        variants={
            "exp1_multiply": VariantSpec({"model.preset": "exp1"}, "exp1: features x buffers (no GAN)"),
            "exp2_concat": VariantSpec({"model.preset": "exp2"}, "exp2: features ++ buffers (no GAN)"),
            "exp1_gan": VariantSpec({"model.preset": "exp1", "loss.gan": True}, "exp1 + PatchGAN (origin's losses)"),
            "exp1_lights7of8": VariantSpec({"model.preset": "exp1"}, "exp1 on 7/8 of the lights",
                                           {"light_fraction": 0.875}),
        },
    ),
    "generalisation": SuiteConfig(
        name="generalisation",
        base=dict(_BUILTIN_BASE),
        description="How quality falls off on novel views, novel lights and both: the default model "
                    "trained on 1/2, 3/4, 7/8 of the views x 1/8, 1/4, 7/8 of the lights.",
        variants=_generalisation_variants(),
    ),
    "remedies": SuiteConfig(
        name="remedies",
        base=dict(_BUILTIN_BASE),
        description="Remedies for temporal instability: baseline vs EMA of the weights vs light-smoothness "
                    "regulariser vs both, judged on the light sweeps' temporal metrics and on PSNR.",
        variants={
            "baseline": VariantSpec({}, "no remedy"),
            "ema": VariantSpec({"remedies.ema": 0.99}, "EMA of the weights (0.99); renders use the EMA copy"),
            "smooth": VariantSpec({"remedies.light_smoothness": 0.5},
                                  "light-smoothness regulariser (weight 0.5, 5° light pairs)"),
            "ema_smooth": VariantSpec({"remedies.ema": 0.99, "remedies.light_smoothness": 0.5}, "both"),
        },
        judge=("temporal", "psnr"),
    ),
    "demo": SuiteConfig(
        name="demo",
        base=dict(_BUILTIN_BASE),
        description="The default model (radiance cues, cast shadows, photo-initialised texture, residual) beside "
                    "the origin's exp1 (multiply) and exp2 (concat), trained briefly on the small synthetic egg: "
                    "does the learned relighter beat the nearest-light baseline?",
        variants={
            "neutex": VariantSpec({"model.preset": "neutex"}, "default: radiance cues x photo texture, residual"),
            "exp1": VariantSpec({"model.preset": "exp1"}, "origin exp1: features x buffers"),
            "exp2": VariantSpec({"model.preset": "exp2"}, "origin exp2: features ++ buffers"),
        },
    ),
    "cues": SuiteConfig(
        name="cues",
        base=dict(_BUILTIN_BASE),
        description="What makes the relit image beat the photographs: from the origin's models to the default, "
                    "one change at a time (diffuse cue, specular cues, cast shadows, photo-initialised texture, "
                    "residual), each beside the nearest-light baseline.",
        variants=_cue_ladder(),
    ),
}
