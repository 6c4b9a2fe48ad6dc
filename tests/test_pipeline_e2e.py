"""The LT-SFT AmericasNLI pipeline end to end on the smoke profile (offline, tiny model)."""

from __future__ import annotations

import time

import torch

from tests.helpers import launch, read_json
from xlt.methods.core.sft import SparseFineTuning

TARGETS = ["aym", "bzd", "cni", "gn", "hch", "nah", "oto", "quy", "shp", "tar"]


def test_smoke_pipeline_sweep_shares_language_sfts_then_rerun_skips(tmp_path, cache_dir):
    root = tmp_path / "root"
    # 1. A density sweep: both jobs need the same 11 language SFTs, which are trained once.
    sweep = launch(["-m", "+experiment=ltsft_americasnli", "+profile=smoke", f"paths.root={root}",
                    "task_module.density=0.02,0.08", f"hydra.sweep.dir={tmp_path / 'sweep'}"], cache_dir)
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    assert len(list((root / "artifacts" / "language_module").glob("[!.]*"))) == 11
    assert len(list((root / "artifacts" / "task_module").glob("[!.]*"))) == 2
    second_job = read_json(tmp_path / "sweep" / "1" / "results.json")
    assert all(second_job["stages"][f"lang/{lang}"]["status"] == "cached" for lang in ["en", *TARGETS])
    assert second_job["stages"]["task"]["status"] == "built"

    # 2. The experiment as configured (thesis K, scaled to the tiny model), from scratch (the timing
    #    baseline of step 3: the acceptance compares a re-run with the first run of a command).
    root = tmp_path / "fresh"
    run_dir = tmp_path / "run"
    start = time.perf_counter()
    first = launch(["+experiment=ltsft_americasnli", "+profile=smoke", f"paths.root={root}",
                    f"hydra.run.dir={run_dir}"], cache_dir)
    first_seconds = time.perf_counter() - start
    assert first.returncode == 0, first.stderr[-3000:]
    results = read_json(run_dir / "results.json")
    assert set(results["languages"]) == set(TARGETS)
    assert all(0.0 <= results["languages"][lang]["accuracy"] <= 1.0 for lang in TARGETS)
    assert abs(results["average"]["accuracy"] - sum(v["accuracy"] for v in results["languages"].values()) / 10) < 1e-9
    assert results["metric"] == "accuracy" and results["config_hash"] and results["task"] == "nli"
    assert (run_dir / ".hydra" / "config.yaml").exists() and (run_dir / "run.json").exists()
    assert (run_dir / "logs" / "task" / "phase2" / "metrics.csv").exists()
    assert "average" in first.stderr  # the printed table
    assert {stage["status"] for stage in results["stages"].values()} == {"built"}

    # The task SFT holds exactly K body entries: K = 14,155,776 scaled by the tiny body size.
    task_dir = run_dir / "artifacts" / "task"
    sft = SparseFineTuning.load(task_dir / "sft.safetensors")
    from transformers import AutoModel
    body = AutoModel.from_pretrained(sft.meta["base_model"], add_pooling_layer=False)
    k = round(14155776 * sum(p.numel() for p in body.parameters()) / 277453056)
    assert sft.num_entries == k == sft.meta["k"]
    assert sft.abs and all(name.startswith("head.") for name in sft.abs)
    assert not any(torch.isnan(d.values).any() for d in sft.diffs.values())

    # 3. The same command again: every stage is reused, in under a third of the time.
    start = time.perf_counter()
    again = launch(["+experiment=ltsft_americasnli", "+profile=smoke", f"paths.root={root}",
                    f"hydra.run.dir={tmp_path / 'again'}"], cache_dir)
    again_seconds = time.perf_counter() - start
    assert again.returncode == 0, again.stderr[-3000:]
    rerun = read_json(tmp_path / "again" / "results.json")
    assert {stage["status"] for stage in rerun["stages"].values()} == {"cached"}
    assert rerun["languages"] == results["languages"]
    assert again_seconds < first_seconds / 3, (again_seconds, first_seconds)
