"""Preparing the synthetic world for ``+world=synthetic`` (issue 15, items 3-4): its data, its pretrained
encoder, its translation model and its causal LM with its instruction data, all from the world's seed.

``python -m xlt.pipeline.world [ROOT] [--seed N] [--sizes default|small|tiny]`` writes the world's data to
``ROOT/data`` (:func:`xlt.data.world.write_world`; kept if already there), pretrains its encoder as the
``pretrained_model`` stage (:mod:`xlt.pipeline.stages.pretraining`) in the artifact store (``XLT_ARTIFACTS``
or ``ROOT/artifacts``: built once, then reused by every job and seed of a sweep) and links it as
``ROOT/encoder``, then trains its translation model as the ``pretrained_nmt`` stage
(:mod:`xlt.pipeline.stages.nmt_pretraining`; ``--no-nmt`` skips it) and links it as ``ROOT/nmt``, then
pretrains its causal LM as the ``pretrained_lm`` stage (:mod:`xlt.pipeline.stages.lm_pretraining`; ``--no-lm``
skips it), links it as ``ROOT/lm`` and writes the instruction data derived from the world's ``qma`` task files
to ``ROOT/instruct`` (:mod:`xlt.data.world.instruct`; chapter 7: ``+world=synthetic_lm``). ROOT
defaults to ``paths.world``'s default, ``$XLT_WORLD`` or ``$XLT_CACHE/world`` or ``.cache/xlt/world``. The
world profile (``conf/world/synthetic.yaml``) then reads ``${paths.world}/data``, loads ``${paths.world}/encoder``
as an ordinary local model and translates with ``${paths.world}/nmt`` (chapter 6's ``nmt.name_or_path``); MAD-G
and the closest-language fallback read the world's typology with ``XLT_URIEL_DIR=ROOT/data/typology``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from xlt.data.world import SIZE_PRESETS, load_description, write_world
from xlt.data.world.instruct import instruction_data_current, write_instruction_data
from xlt.errors import DataError, XltError
from xlt.pipeline.runner import Runner
from xlt.pipeline.stages.lm_pretraining import LmPretrainingConfig, lm_pretraining_stage
from xlt.pipeline.stages.nmt_pretraining import NmtPretrainingConfig, chrf_table, nmt_pretraining_stage
from xlt.pipeline.stages.pretraining import PretrainingConfig, pretraining_stage
from xlt.pipeline.store import ArtifactStore

log = logging.getLogger(__name__)


def default_root() -> Path:
    """``paths.world``'s default (conf/paths/default.yaml) outside Hydra."""
    if os.environ.get("XLT_WORLD"):
        return Path(os.environ["XLT_WORLD"])
    cache = os.environ.get("XLT_CACHE") or str(Path(os.environ.get("XLT_ROOT", ".")) / ".cache" / "xlt")
    return Path(cache) / "world"


@dataclass
class PreparedWorld:
    root: Path
    data: Path  # the written world (world.json, corpora/, nli/, ...)
    encoder: Path  # the pretrained encoder's artifact directory (ROOT/encoder links to it)
    metrics: dict[str, Any]  # the pretraining stage's metrics (held-out MLM loss per language)
    status: str  # "built" or "cached"
    nmt: Path | None = None  # the translation model's artifact directory (ROOT/nmt links to it); None: skipped
    nmt_metrics: dict[str, Any] | None = None  # its stage's metrics (held-out chrF per direction)
    lm: Path | None = None  # the causal LM's artifact directory (ROOT/lm links to it); None: skipped
    lm_metrics: dict[str, Any] | None = None  # its stage's metrics (held-out next-token loss per language)
    instruct: Path | None = None  # the instruction data (ROOT/instruct); None: skipped with the LM

    @property
    def typology(self) -> Path:
        return self.data / "typology"

    def environment(self) -> dict[str, str]:
        """What a launch.py run with +world=synthetic needs (MAD-G reads the typology from XLT_URIEL_DIR)."""
        return {"XLT_WORLD": str(self.root), "XLT_URIEL_DIR": str(self.typology)}


def prepare_world(root: str | Path | None = None, seed: int = 0, sizes: str = "default",
                  artifacts: str | Path | None = None, pretraining: PretrainingConfig | None = None,
                  nmt: bool = True, nmt_pretraining: NmtPretrainingConfig | None = None, lm: bool = False,
                  lm_pretraining: LmPretrainingConfig | None = None) -> PreparedWorld:
    """The world of ``seed`` under ``root``, data written, encoder pretrained, (``nmt``) translation model
    trained and (``lm``, off by default: only chapter 7 needs it) causal LM pretrained with the instruction data
    written, each only if missing."""
    root = Path(root or default_root()).resolve()
    if sizes not in SIZE_PRESETS:
        raise DataError(f"world sizes {sizes!r}: expected one of {sorted(SIZE_PRESETS)}")
    data = root / "data"
    if (data / "world.json").is_file():
        description = load_description(data)
        expected = asdict(SIZE_PRESETS[sizes])
        if description["seed"] != seed or description["sizes"] != expected:
            raise DataError(f"{data}: holds the world of seed {description['seed']} with other sizes than asked "
                            f"(seed {seed}, {sizes}); use another root or remove it")
    else:
        write_world(data, seed, SIZE_PRESETS[sizes])
    store = ArtifactStore(artifacts or os.environ.get("XLT_ARTIFACTS") or root / "artifacts")
    stage = pretraining_stage(data, pretraining, seed)
    nmt_stage = nmt_pretraining_stage(data, nmt_pretraining, seed) if nmt else None  # a bad config fails first
    lm_stage = lm_pretraining_stage(data, lm_pretraining, seed) if lm else None
    runner = Runner(store, root / "runs" / "pretraining", announce=log.info)
    result = runner.run([stage])[stage.label]
    _link(root / "encoder", result.path)
    world = PreparedWorld(root, data, result.path, result.metrics, result.status)
    if nmt_stage is not None:
        translation = runner.run([nmt_stage])[nmt_stage.label]
        _link(root / "nmt", translation.path)
        world.nmt, world.nmt_metrics = translation.path, translation.metrics
    if lm_stage is not None:
        if not instruction_data_current(data, root / "instruct"):
            write_instruction_data(data, root / "instruct")
        world.instruct = root / "instruct"
        causal = runner.run([lm_stage])[lm_stage.label]
        _link(root / "lm", causal.path)
        world.lm, world.lm_metrics = causal.path, causal.metrics
    return world


def _link(link: Path, target: Path) -> None:
    """Point ``link`` at ``target`` atomically (a symlink renamed into place)."""
    temporary = link.parent / f".{link.name}.{os.getpid()}"
    if temporary.is_symlink():
        temporary.unlink()
    os.symlink(target.resolve(), temporary)
    os.replace(temporary, link)


def loss_table(metrics: dict[str, Any], what: str = "MLM") -> str:
    """Held-out MLM (or next-token, ``what``) loss of every language, seen ones first."""
    rows = [f"{lang}: {metrics[f'heldout/{lang}/loss']:.3f}" for lang in [*metrics["seen"], *metrics["unseen"]]]
    return (f"held-out {what} loss, seen ({', '.join(metrics['seen'])}) then unseen:\n  " + "\n  ".join(rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xlt.pipeline.world", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", nargs="?", help="the world's directory (default: $XLT_WORLD or $XLT_CACHE/world)")
    parser.add_argument("--seed", type=int, default=0, help="the world's seed (data and encoder; default 0)")
    parser.add_argument("--sizes", choices=sorted(SIZE_PRESETS), default="default", help="data size preset")
    parser.add_argument("--artifacts", help="artifact store (default: $XLT_ARTIFACTS or ROOT/artifacts)")
    parser.add_argument("--steps", type=int, help="pretraining steps (default: PretrainingConfig's)")
    parser.add_argument("--no-nmt", action="store_true", help="skip the translation model (chapter 6's NMT)")
    parser.add_argument("--no-lm", action="store_true",
                        help="skip the causal LM and its instruction data (chapter 7)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from xlt.training.fit import quiet_libraries

    quiet_libraries()
    pretraining = PretrainingConfig(**({"steps": args.steps} if args.steps else {}))
    try:
        world = prepare_world(args.root, args.seed, args.sizes, args.artifacts, pretraining, nmt=not args.no_nmt,
                              lm=not args.no_lm)
    except XltError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"world of seed {args.seed}: data {world.data}, encoder {world.encoder} ({world.status})")
    print(loss_table(world.metrics))
    if world.nmt is not None and world.nmt_metrics is not None:
        print(f"translation model {world.nmt}")
        print(chrf_table(world.nmt_metrics))
    if world.lm is not None and world.lm_metrics is not None:
        print(f"causal LM {world.lm}; instruction data {world.instruct}")
        print(loss_table(world.lm_metrics, "next-token"))
    print("to run experiments on it: " + " ".join(f"{k}={v}" for k, v in world.environment().items())
          + " python launch.py +experiment=NAME +world=synthetic")
    return 0


if __name__ == "__main__":
    sys.exit(main())
