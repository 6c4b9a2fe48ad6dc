"""``python -m xlt.report``: tables (mean and std over seeds, per experiment, skipped jobs listed),
CSV and figures, on synthetic run and multirun directories with hand-computed values."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from xlt.report import find_jobs, main, parse_overrides, write_job_error, write_report

REPO = Path(__file__).resolve().parents[1]


def _job(directory: Path, overrides: list[str], results: dict | None = None) -> Path:
    (directory / ".hydra").mkdir(parents=True)
    (directory / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if results is not None:
        (directory / "results.json").write_text(json.dumps(results))
    return directory


def _results(experiment: str, scores: dict[str, float], metric: str = "accuracy") -> dict:
    return {"experiment": experiment, "task": "nli", "metric": metric,
            "languages": {lang: {metric: value, "loss": 1.0} for lang, value in scores.items()},
            "average": {metric: sum(scores.values()) / len(scores), "loss": 1.0}}


# accuracy on (aym, gn) per (language density, task density, seed)
GRID = {
    ("0.02", "0.02", "1"): (0.40, 0.30), ("0.02", "0.02", "2"): (0.44, 0.34),
    ("0.02", "0.08", "1"): (0.50, 0.40), ("0.02", "0.08", "2"): (0.50, 0.46),
    ("0.08", "0.02", "1"): (0.60, 0.50), ("0.08", "0.02", "2"): (0.62, 0.54),
    ("0.08", "0.08", "1"): (0.30, 0.20), ("0.08", "0.08", "2"): (0.36, 0.24),
}


@pytest.fixture
def sweeps(tmp_path) -> Path:
    """Two multiruns: a 2x2 density grid x 2 seeds (+ a failed and an unfinished job), and a method x
    density sweep of another experiment."""
    grid = tmp_path / "multirun" / "grid"
    base = ["+experiment=ltsft_americasnli", "+profile=smoke", f"paths.root={tmp_path}", "data.targets=[aym,gn]"]
    for number, ((lang, task, seed), (aym, gn)) in enumerate(GRID.items()):
        _job(grid / str(number), [*base, f"lang_module.density={lang}", f"task_module.density={task}",
                                  f"seed={seed}", "hydra/launcher=submitit_slurm"],
             _results("ltsft_americasnli", {"aym": aym, "gn": gn}))
    failed = _job(grid / "8", [*base, "lang_module.density=0.02", "task_module.density=0.02", "seed=3"])
    write_job_error(failed, "ConfigError: module: K=0 trainable entries")
    _job(grid / "9", [*base, "lang_module.density=0.08", "task_module.density=0.08", "seed=3"])
    (grid / ".submitit" / "1_0").mkdir(parents=True)  # hidden dirs are not jobs
    (grid / "multirun.yaml").write_text("{}\n")

    methods = tmp_path / "multirun" / "methods"
    scores = {("sft", "0.01"): 0.40, ("sft", "0.1"): 0.50, ("rand_sft", "0.01"): 0.30, ("rand_sft", "0.1"): 0.45}
    for number, ((method, density), score) in enumerate(scores.items()):
        _job(methods / str(number), ["+experiment=other", f"task_module={method}", f"task_module.density={density}"],
             _results("other", {"quy": score}))
    return tmp_path / "multirun"


def test_report_tables_over_a_tree_of_multiruns(sweeps):
    report = write_report(sweeps)
    assert [table.experiment for table in report.tables] == ["ltsft_americasnli", "other"]
    grid = report.tables[0]
    assert grid.row_keys == ["lang_module.density", "task_module.density"]  # seed aggregated, launcher ignored
    assert grid.columns == ["aym", "gn", "avg"]
    text = (sweeps / "report" / "report.md").read_text()
    assert "| lang_module.density | task_module.density | aym | gn | avg | seeds |" in text
    # (0.02, 0.02): aym 40, 44 -> 42.0 +- 2.8; gn 30, 34 -> 32.0 +- 2.8; avg 35, 39 -> 37.0 +- 2.8
    assert "| 0.02 | 0.02 | 42.0 ± 2.8 | 32.0 ± 2.8 | 37.0 ± 2.8 | 2 |" in text
    # (0.08, 0.02): aym 60, 62 -> 61.0 +- 1.4; gn 50, 54 -> 52.0 +- 2.8; avg 55, 58 -> 56.5 +- 2.1
    assert "| 0.08 | 0.02 | 61.0 ± 1.4 | 52.0 ± 2.8 | 56.5 ± 2.1 | 2 |" in text
    assert "| task_module | task_module.density | quy | avg | seeds |" in text
    assert "| rand_sft | 0.01 | 30.0 | 30.0 | 1 |" in text  # one seed: no std
    # the jobs without results are skipped and named, with the failure's error
    assert "Skipped 2 job(s) without results" in text
    assert f"{sweeps / 'grid' / '8'} (experiment=ltsft_americasnli profile=smoke data.targets=[aym,gn] " \
           "lang_module.density=0.02 task_module.density=0.02 seed=3): failed: ConfigError: module: K=0" in text
    assert f"{sweeps / 'grid' / '9'} (" in text and "unfinished (no results.json)" in text

    with open(sweeps / "report" / "ltsft_americasnli.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and rows[0]["lang_module.density"] == "0.02" and rows[0]["seeds"] == "2"
    assert float(rows[0]["aym"]) == pytest.approx(0.42) and float(rows[0]["aym_std"]) == pytest.approx(0.04 / 2 ** 0.5)
    assert float(rows[3]["avg"]) == pytest.approx(0.275)

    # figures: a contour plot for the 2-D grid (Fig. 4.3), a line plot per method for the 1-D sweep (Fig. 4.2)
    pngs = sorted(p.name for p in report.files if p.suffix == ".png")
    assert pngs == ["ltsft_americasnli_lang_module.density_x_task_module.density.png",
                    "other_task_module.density.png"]
    for name in pngs:
        assert (sweeps / "report" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_on_a_single_run_and_on_nothing(tmp_path, capsys):
    run = _job(tmp_path / "outputs" / "run", ["+experiment=ltsft_americasnli", "+profile=smoke"],
               _results("ltsft_americasnli", {"aym": 0.5, "gn": 0.25}))
    (run / "artifacts" / "task").mkdir(parents=True)  # artifact links are not jobs
    assert main([str(run), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "| run | aym | gn | avg | seeds |" in out and "| ltsft_americasnli | 50.0 | 25.0 | 37.5 | 1 |" in out
    assert (tmp_path / "out" / "report.md").exists() and not list((tmp_path / "out").glob("*.png"))
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 1  # nothing finished
    assert main([str(tmp_path / "missing")]) == 2


def test_python_dash_m_xlt_report(sweeps):
    result = subprocess.run([sys.executable, "-m", "xlt.report", str(sweeps / "grid"), "--no-figures"], cwd=REPO,
                            capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(REPO), "PATH": ""})
    assert result.returncode == 0, result.stderr
    assert "| 0.08 | 0.08 | 33.0 ± 4.2 | 22.0 ± 2.8 | 27.5 ± 3.5 | 2 |" in result.stdout


def test_overrides_and_job_discovery(tmp_path):
    assert parse_overrides(["+experiment=x", "~logger", "paths.root=/a", "hydra.sweep.dir=/b", "cluster.mem_gb=8",
                            "++seed=3", "data.targets=[a,b]"]) == {"experiment": "x", "seed": "3",
                                                                   "data.targets": "[a,b]"}
    for number in (10, 2, 1):
        _job(tmp_path / str(number), [f"seed={number}"])
    assert [job.path.name for job in find_jobs(tmp_path)] == ["1", "2", "10"]
    assert {job.status for job in find_jobs(tmp_path)} == {"unfinished"}
