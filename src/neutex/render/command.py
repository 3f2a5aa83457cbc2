"""``neutex render RUN --out FILE.mp4``: the CLI face of :class:`~neutex.render.config.RenderConfig`."""

from __future__ import annotations

from dataclasses import dataclass

from neutex.render.config import RenderConfig


@dataclass
class RenderCommand(RenderConfig):
    """Render a trained run to an mp4: a light sweep at a fixed view (default), an orbit of the
    camera (--kind orbit; needs the mesh and OpenGL), both (--kind both), or a ground-truth
    sequence as GT | prediction | error with its temporal metrics (--sequence NAME). Writes
    FILE.mp4 and FILE.json (what was drawn; metrics and flagged frames)."""

    def main(self) -> None:
        from rich.console import Console
        from rich.markup import escape

        # heavy (torch and what it drives): imported only when the command runs
        from neutex.render.pipeline import render_video

        con = Console(stderr=True)
        res = render_video(self, log=lambda s: con.print(f"[yellow]{escape(s)}[/]", highlight=False, soft_wrap=True))
        s = res.summary
        what = {"sweep": f"light sweep at {s.get('view')}", "orbit": f"orbit from {s.get('start_view')}",
                "both": f"orbit from {s.get('start_view')} with a moving light",
                "sequence": f"sequence {s.get('sequence')} at {s.get('view')} (GT | prediction | error)",
                "envmap": f"{s.get('view')} under {s.get('envmap', {}).get('file')}",
                "envmap-rotate": f"{s.get('view')} under {s.get('envmap', {}).get('file')}, turning"}[res.kind]
        if res.kind == "envmap":
            e = s["envmap"]
            con.print(f"[green]wrote[/] {escape(str(res.video))}: {escape(what)} ({e['lights']} {e['sampling']} lights), "
                      f"{res.width}x{res.height}, rendered in {res.seconds:.1f} s (model loaded in "
                      f"{res.load_seconds:.1f} s, {s['precision']} on {s['device']})", highlight=False, soft_wrap=True)
            if s.get("ground_truth"):
                g = s["ground_truth"]
                con.print(f"against the capture's ground truth ({g['environment']}): PSNR tm {g['psnr_tonemapped']:.2f} dB, "
                          f"SSIM {g['ssim']:.4f}", highlight=False, soft_wrap=True)
            con.print(f"[green]wrote[/] {escape(str(res.json))}", highlight=False, soft_wrap=True)
            return
        con.print(f"[green]wrote[/] {escape(str(res.video))}: {escape(what)}, {res.frames} frames of {res.width}x{res.height} at "
                  f"{res.fps:g} fps ({res.frames / res.fps:.1f} s of video), rendered in {res.seconds:.1f} s "
                  f"({res.frames / max(res.seconds, 1e-9):.1f} frames/s; model loaded in {res.load_seconds:.1f} s, "
                  f"{s['precision']} on {s['device']})", highlight=False, soft_wrap=True)
        tm = s.get("temporal")
        if tm:
            flagged = [f["frame"] for f in tm["flagged_frames"]]
            parts = [f"J {tm['jump_index']:.4g}"]
            if tm.get("tde_rel") is not None:
                parts = [f"tDE {tm['tde']:.4g}", f"tDE_rel {tm['tde_rel']:.4g}", f"J {tm['jump_index']:.4g} "
                         f"(GT {tm['jump_index_gt']:.4g})", f"worst frame {tm['worst_frame']}"]
            if s.get("psnr_mean") is not None:
                parts.insert(0, f"PSNR {s['psnr_mean']:.2f} dB")
            con.print("temporal: " + ", ".join(parts) + f", flagged frames {flagged}", highlight=False, soft_wrap=True)
        con.print(f"[green]wrote[/] {escape(str(res.json))}", highlight=False, soft_wrap=True)

