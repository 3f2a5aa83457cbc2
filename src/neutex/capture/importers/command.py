"""``neutex import <dataset> SRC --out DIR``: one nested subcommand per importer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional, Union

import tyro

from neutex.capture.importers.diligent import import_diligent
from neutex.errors import ConfigError


@dataclass
class DiligentImport:
    """Import a DiLiGenT photometric-stereo object folder (e.g. pmsData/ballPNG) as a single-view capture: one orthographic camera with given G-buffers, one directional light per image, images as linear EXR divided by the light intensities, saturated pixels masked out, each row of the light grid as a sequence. See docs/capture.md."""

    src: tyro.conf.Positional[Path]
    """the DiLiGenT object folder: 001.png ..., filenames.txt, light_directions.txt, light_intensities.txt, mask.png, Normal_gt.mat (or Normal_gt.npy / Normal_gt.txt)"""
    out: Path
    """the capture folder to write (capture.json, images/, masks/, gbuffer/)"""
    grid_rows: Optional[int] = None
    """the number of horizontal rows of the light grid, checked against the rows found in the light directions (None: accept what is found)"""
    sequences: bool = True
    """write each light row, ordered left to right, as a sequence (a ground-truth light sweep)"""
    divide_intensity: bool = True
    """divide each image by its light's RGB intensity (the lights then have intensity 1); otherwise keep the images and give the lights their intensities"""
    overwrite: bool = False
    """replace an existing capture.json in --out"""

    def main(self) -> None:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task("importing images", total=None)
            cap = import_diligent(self.src, self.out, grid_rows=self.grid_rows, sequences=self.sequences,
                                  divide_intensity=self.divide_intensity, overwrite=self.overwrite,
                                  progress=lambda i, n: bar.update(task, completed=i, total=n))
        for note in cap.generator.get("notes", []):
            print(f"note: {note}")
        cam = cap.cameras[0]
        n_sat = len(cap.generator.get("saturated_pixels", {}))
        print(f"wrote {cap.root / 'capture.json'}: {cam.width}x{cam.height}, {len(cap.lights)} lights, "
              f"{len(cap.sequences)} light-row sequences, {n_sat} images with saturated pixels (masked out)")


#: the importers; the ``None`` member only keeps a one-member Union a Union (as tyro's own
#: ``subcommand_type_from_defaults`` does), so that ``diligent`` stays a subcommand.
Importer = Union[
    Annotated[DiligentImport, tyro.conf.subcommand("diligent")],
    Annotated[None, tyro.conf.Suppress],
]


@dataclass
class ImportCommand:
    """Convert a public dataset into a neutex capture (capture.json + images)."""

    dataset: Annotated[Importer, tyro.conf.arg(name="")]
    """the dataset format"""

    def main(self) -> None:
        if self.dataset is None:  # not reachable from the command line
            raise ConfigError("import: no dataset given", hint="neutex import diligent SRC --out DIR")
        self.dataset.main()
