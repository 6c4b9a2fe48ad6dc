"""``python -m xlt.report``: tables (mean and std over seeds, per experiment, skipped jobs listed), CSV,
LaTeX and figures (PNG + PDF) with human labels, on synthetic run and multirun directories with
hand-computed values; chapter 3's language groups (Tables 3.1, 3.2, 3.4, A.2) on hand-made MAD-G
results and on a real smoke run's results.json (tests/data/report/madg_ud_pos_smoke)."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.test_language_codes import MASAKHANER, TRAINING, UD
from xlt.report import build_tables, find_jobs, main, parse_overrides, write_job_error, write_report
from xlt.report.figures import draw_table
from xlt.report.groups import classify, genera, mbert_languages
from xlt.report.labels import axis_scale, experiment_title, format_value, key_label, method_context, method_label

REPO = Path(__file__).resolve().parents[1]
SMOKE_RUN = REPO / "tests" / "data" / "report" / "madg_ud_pos_smoke"


def _job(directory: Path, overrides: list[str], results: dict | None = None, config: dict | None = None) -> Path:
    (directory / ".hydra").mkdir(parents=True)
    (directory / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if results is not None:
        (directory / "results.json").write_text(json.dumps(results))
    if config is not None:
        (directory / "run.json").write_text(json.dumps({"overrides": overrides, "config": config}))
    return directory


def _results(experiment: str, scores: dict[str, float], metric: str = "accuracy", **extra) -> dict:
    return {"experiment": experiment, "task": "nli", "metric": metric,
            "languages": {lang: {metric: value, "loss": 1.0} for lang, value in scores.items()},
            "average": {metric: sum(scores.values()) / len(scores), "loss": 1.0}, **extra}


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
    assert "## LT-SFT on AmericasNLI (`ltsft_americasnli`): NLI, accuracy (%)" in text
    assert "| language density (% of parameters) | task density (% of parameters) | aym | gn | avg | seeds |" in text
    # (0.02, 0.02): aym 40, 44 -> 42.0 +- 2.8; gn 30, 34 -> 32.0 +- 2.8; avg 35, 39 -> 37.0 +- 2.8
    assert "| 2 | 2 | 42.0 ± 2.8 | 32.0 ± 2.8 | 37.0 ± 2.8 | 2 |" in text
    # (0.08, 0.02): aym 60, 62 -> 61.0 +- 1.4; gn 50, 54 -> 52.0 +- 2.8; avg 55, 58 -> 56.5 +- 2.1: best everywhere
    assert "| 8 | 2 | **61.0 ± 1.4** | **52.0 ± 2.8** | **56.5 ± 2.1** | 2 |" in text
    # method names, not override strings; LT-SFT before rand-SFT (Table 4.2's order)
    assert "| method | task density (% of parameters) | quy | avg | seeds |" in text
    assert text.index("| LT-SFT | 1 | 40.0 |") < text.index("| LT-SFT | 10 | **50.0** | **50.0** | 1 |") < \
        text.index("| rand-SFT | 1 | 30.0 | 30.0 | 1 |")  # one seed: no std
    assert "task_module" not in text.split("Skipped")[0].replace("`", "")  # no raw keys in the tables
    # the jobs without results are skipped and named, with the failure's error
    assert "Skipped 2 job(s) without results" in text
    assert f"{sweeps / 'grid' / '8'} (experiment=ltsft_americasnli profile=smoke data.targets=[aym,gn] " \
           "lang_module.density=0.02 task_module.density=0.02 seed=3): failed: ConfigError: module: K=0" in text
    assert f"{sweeps / 'grid' / '9'} (" in text and "unfinished (no results.json)" in text

    # CSV: raw numbers and the raw override strings for machines, beside the readable label
    with open(sweeps / "report" / "ltsft_americasnli.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and rows[0]["lang_module.density"] == "0.02" and rows[0]["seeds"] == "2"
    assert rows[0]["label"] == "2, 2"
    assert float(rows[0]["aym"]) == pytest.approx(0.42) and float(rows[0]["aym_std"]) == pytest.approx(0.04 / 2 ** 0.5)
    assert float(rows[3]["avg"]) == pytest.approx(0.275)
    with open(sweeps / "report" / "other.csv") as handle:
        assert [(r["label"], r["task_module"], r["task_module.density"]) for r in csv.DictReader(handle)] == \
            [("LT-SFT, 1", "sft", "0.01"), ("LT-SFT, 10", "sft", "0.1"), ("rand-SFT, 1", "rand_sft", "0.01"),
             ("rand-SFT, 10", "rand_sft", "0.1")]

    # figures, PNG and PDF of each: a contour plot for the 2-D grid (Fig. 4.3), a line per method (Fig. 4.2)
    figures = sorted(p.name for p in report.files if p.suffix in (".png", ".pdf"))
    assert figures == ["ltsft_americasnli_lang_module.density_x_task_module.density.pdf",
                       "ltsft_americasnli_lang_module.density_x_task_module.density.png",
                       "other_task_module.density.pdf", "other_task_module.density.png"]
    for name in figures:
        magic = b"\x89PNG\r\n\x1a\n" if name.endswith(".png") else b"%PDF"
        assert (sweeps / "report" / name).read_bytes().startswith(magic)
    assert sorted(p.name for p in report.files if p.suffix == ".tex") == ["ltsft_americasnli.tex", "other.tex"]


def test_figures_have_human_labels_a_legend_and_the_right_scale(sweeps):
    import matplotlib.pyplot as plt

    grid, methods = build_tables(find_jobs(sweeps))
    stem, figure = draw_table(methods)
    axes = figure.axes[0]
    assert stem == "other_task_module.density"
    assert axes.get_xlabel() == "task density (% of parameters)" and axes.get_xscale() == "log"
    assert axes.get_ylabel() == "average accuracy (%)" and axes.get_title() == "other: NLI"
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["LT-SFT", "rand-SFT"]
    assert [t.get_text() for t in axes.get_xticklabels()] == ["1", "10"]  # ticks at the swept densities, in %
    plt.close(figure)

    stem, figure = draw_table(grid)
    axes = figure.axes[0]
    assert (axes.get_xlabel(), axes.get_ylabel()) == ("language density (% of parameters)",
                                                     "task density (% of parameters)")
    assert axes.get_xscale() == axes.get_yscale() == "log"
    assert axes.get_title() == "LT-SFT on AmericasNLI: NLI" and axes.get_legend() is not None
    assert figure.axes[1].get_ylabel() == "average accuracy (%)"  # the colour bar
    plt.close(figure)


def test_key_labels_with_a_readable_fallback():
    assert key_label("task_module.density") == "task density (% of parameters)"
    assert key_label("lang_module.density") == "language density (% of parameters)"
    assert key_label("task_module.num_trainable") == "trainable task parameters"
    assert key_label("recipe.finetune.words") == "words of fine-tuning data"
    assert key_label("task.train.lr") == "learning rate"
    assert key_label("data.shots.k") == key_label("data.shots") == "shots per language (K)"
    assert key_label("nmt.model") == "NLLB model size"
    # unknown keys: the owner's name, then the words of the key
    assert key_label("lang_module.train.warmup_ratio") == "language module training warm-up ratio"
    assert key_label("recipe.finetune.train.max_steps") == "fine-tuning steps"
    assert key_label("task_module.freeze_layer_norm") == "task freeze layer norm"
    assert key_label("foo.bar_baz") == "foo bar baz"
    assert experiment_title("ltsft_americasnli") == "LT-SFT on AmericasNLI"
    assert experiment_title("madg_ud_pos_multisource") == "MAD-G on UD POS (multi-source)"
    assert experiment_title("madg_ft") == "MAD-G-ft" and experiment_title("custom") == "custom"
    # values as a paper prints them
    assert format_value("task_module.density", "0.02") == "2"
    assert format_value("lang_module.density", "0.0016") == "0.16"
    assert format_value("task_module.num_trainable", "442368") == "442K"
    assert format_value("task_module.num_trainable", "14155776") == "14.2M"
    assert format_value("recipe.finetune.words", "1000") == "1K" and format_value("task.train.lr", "1e-4") == "1e-4"
    assert format_value("model", "xlmr_base") == "XLM-R base" and format_value("nmt.model", "nllb-200-3.3B") == "3.3B"


def test_axis_scale_follows_the_swept_quantity():
    for key, values in (("task_module.density", [0.02, 0.08]), ("lang_module.density", [0.05, 0.1, 0.2, 1.0]),
                        ("data.shots.k", [5, 10, 20, 50, 100]), ("recipe.finetune.words", [1e3, 3e3, 1e4, 1e5]),
                        ("task.train.lr", [3e-6, 1e-5, 3e-5, 1e-4]), ("task_module.num_trainable", [442368, 884736]),
                        ("nmt.model", [6e8, 1.3e9, 3.3e9]), ("task_module.rank", [8, 16, 32, 64])):
        assert axis_scale(key, values) == "log", key
    assert axis_scale("task_module.num_layers", [1, 2, 4, 8, 12]) == "linear"  # layer counts: linear
    assert axis_scale("task.train.max_epochs", [1, 10, 100]) == "linear"
    assert axis_scale("task_module.weight_decay", [0.0, 0.01, 0.1]) == "linear"  # a zero: no log axis
    assert axis_scale("task.train.lr", [1e-4]) == "linear"  # one value
    # keys nobody described: the spread decides
    assert axis_scale("foo.bar", [1, 2, 4, 8, 16]) == "log"  # geometric
    assert axis_scale("foo.bar", [1, 2, 3, 4, 5]) == "linear"  # arithmetic
    assert axis_scale("foo.bar", [1, 1000]) == "log" and axis_scale("foo.bar", [1, 3]) == "linear"


def test_method_names_from_overrides_choices_and_config():
    names = {"sft": "LT-SFT", "rand_sft": "rand-SFT", "bitfit": "BitFit", "adapter": "MAD-X", "lora": "LoRA",
             "spiel_ag": "SpIEL-AG", "spiel_ma": "SpIEL-MA", "ia3": "(IA)³", "qlora": "qLoRA",
             "full": "full fine-tuning"}
    for option, name in names.items():
        assert method_label({"task_module": option}) == name
    madg = {"lang_module": "madg", "task_module": "adapter_all_layers"}
    assert method_label(madg) == "MAD-G" and method_label({**madg, "lang_module": "madg_ls"}) == "MAD-G-LS"
    assert method_label({**madg, "recipe.protocol": "source"}) == "MAD-G-en"
    assert method_label({**madg, "lang_module": "madg_ls", "recipe.protocol": "source"}) == "MAD-G-LS-en"
    assert method_label({**madg, "recipe.protocol": "ta_only"}) == "TA-only"
    assert method_label({**madg, "recipe.finetune.init": "generated"}) == "MAD-G-ft"
    assert method_label({**madg, "recipe.finetune.init": "random"}) == "rand-ft"
    assert method_label({"recipe.protocol": "ta_only"}) == "TA-only"
    assert method_label({"task_module": "sft", "lang_module": "sft", "recipe.protocol": "ta_only_at_inference"}) == \
        "LT-SFT TA-only"  # Table 4.2
    assert method_label({"task_module": "adapter", "recipe.protocol": "ta_only"}) == "TA-only"
    assert method_label({"task_module": "sft", "lang_module": "adapter"}, with_language=True) == \
        "LT-SFT + MAD-X language modules"
    assert method_label({}) is None
    # the resolved config wins over what the overrides could say: MAD-G-LS by its layer embedding, q- by quantize
    config = {"lang_module": {"method": "madg", "layer_dim": 32}, "task_module": {"method": "adapter"},
              "recipe": {"name": "madg", "protocol": "source", "finetune": None}}
    assert method_label(method_context({}, config)) == "MAD-G-LS-en"
    assert method_label(method_context({}, {"task_module": {"method": "lora", "quantize": {"bits": 4}}})) == "qLoRA"
    assert method_context({"task_module.density": "0.1"}, None, {"task_module": "rand_sft", "model": "mbert"}) == \
        {"task_module": "rand_sft"}


def test_several_method_overrides_make_one_readable_label(tmp_path):
    """A MAD-G sweep over lang_module x recipe.protocol: one "method" column (MAD-G, MAD-G-LS, MAD-G-en,
    MAD-G-LS-en, in the thesis's order), the raw overrides still in the CSV."""
    config = {"lang_module": {"method": "madg", "languages": ["en"]}, "data": {"use_samples": False}}
    for number, (module, protocol) in enumerate((("madg", "target"), ("madg", "source"), ("madg_ls", "target"),
                                                 ("madg_ls", "source"))):
        lang_config = {**config["lang_module"], **({"layer_dim": 32} if module == "madg_ls" else {})}
        _job(tmp_path / str(number), ["+experiment=madg_ud_pos", f"lang_module={module}",
                                      f"recipe.protocol={protocol}"],
             _results("madg_ud_pos", {"ar": 0.1 * (number + 1)}),
             {**config, "lang_module": lang_config, "recipe": {"name": "madg", "protocol": protocol}})
    (table,) = build_tables(find_jobs(tmp_path))
    assert table.label_headers == ["method"]
    assert [row.label for row in table.rows] == ["MAD-G", "MAD-G-LS", "MAD-G-en", "MAD-G-LS-en"]
    write_report(tmp_path, tmp_path / "out", figures=False)
    with open(tmp_path / "out" / "madg_ud_pos.csv") as handle:
        assert [(r["label"], r["lang_module"], r["recipe.protocol"]) for r in csv.DictReader(handle)] == \
            [("MAD-G", "madg", "target"), ("MAD-G-LS", "madg_ls", "target"), ("MAD-G-en", "madg", "source"),
             ("MAD-G-LS-en", "madg_ls", "source")]


def _latex_rows(text: str) -> list[list[list[str]]]:
    """Check the environments nest and close, and every tabular row has its spec's number of columns;
    return each tabular's body rows (cells)."""
    stack = []
    for match in re.finditer(r"\\(begin|end)\{(\w+)\}", text):
        if match[1] == "begin":
            stack.append(match[2])
        else:
            assert stack and stack.pop() == match[2], match.group(0)
    assert not stack
    tables = []
    for spec, body in re.findall(r"\\begin\{tabular\}\{(\w+)\}\n(.*?)\\end\{tabular\}", text, re.S):
        lines = body.splitlines()
        assert lines[0] == "\\toprule" and lines[-1] == "\\bottomrule" and "\\midrule" in lines
        rows = []
        for line in lines[1:-1]:
            if line.startswith("\\midrule"):
                continue
            assert line.endswith(" \\\\"), line
            cells = [cell.strip() for cell in re.split(r"(?<!\\)&", line[:-3])]
            assert len(cells) == len(spec), line
            rows.append(cells)
        tables.append(rows[lines[1:-1].index("\\midrule"):])  # body rows: after the header (and note) rows
    return tables


def _plain(cell: str) -> str:
    return re.sub(r"\\textbf\{([^}]*)\}", r"\1", cell).replace("$\\pm$", "±").replace("**", "")


def test_latex_parses_bolds_the_best_and_matches_the_markdown(sweeps):
    report = write_report(sweeps, figures=False)
    tex = (sweeps / "report" / "ltsft_americasnli.tex").read_text()
    assert "\\toprule" in tex and "\\caption{" in tex and "\\label{tab:ltsft-americasnli-languages}" in tex
    (rows,) = _latex_rows(tex)
    markdown = report.tables[0].markdown()
    md_rows = [[c.strip() for c in line.strip("|").split("|")] for line in markdown.splitlines()
               if line.startswith("| ") and not line.startswith("| language") and "---" not in line]
    assert len(rows) == len(md_rows) == 4
    for latex_row, md_row in zip(rows, md_rows):
        assert [_plain(c) for c in latex_row] == [_plain(c) for c in md_row[:-1]]  # the seeds column: markdown only
    # bold: the best mean of each column, here all in the (8, 2) row
    assert rows[2] == ["8", "2", "\\textbf{61.0} $\\pm$ 1.4", "\\textbf{52.0} $\\pm$ 2.8", "\\textbf{56.5} $\\pm$ 2.1"]
    assert not any("textbf" in cell for row in rows[:2] + rows[3:] for cell in row)
    other = (sweeps / "report" / "other.tex").read_text()
    (rows,) = _latex_rows(other)
    assert [row[0] for row in rows] == ["LT-SFT", "LT-SFT", "rand-SFT", "rand-SFT"]
    assert rows[1][2:] == ["\\textbf{50.0}", "\\textbf{50.0}"]
    assert "task density (\\% of parameters)" in other  # escaped


def test_cli_on_a_single_run_and_on_nothing(tmp_path, capsys):
    run = _job(tmp_path / "outputs" / "run", ["+experiment=ltsft_americasnli", "+profile=smoke"],
               _results("ltsft_americasnli", {"aym": 0.5, "gn": 0.25}))
    (run / "artifacts" / "task").mkdir(parents=True)  # artifact links are not jobs
    assert main([str(run), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "| run | aym | gn | avg | seeds |" in out and "| LT-SFT on AmericasNLI | 50.0 | 25.0 | 37.5 | 1 |" in out
    assert (tmp_path / "out" / "report.md").exists() and not list((tmp_path / "out").glob("*.png"))
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 1  # nothing finished
    assert main([str(tmp_path / "missing")]) == 2


def test_python_dash_m_xlt_report(sweeps):
    result = subprocess.run([sys.executable, "-m", "xlt.report", str(sweeps / "grid"), "--no-figures"], cwd=REPO,
                            capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(REPO), "PATH": ""})
    assert result.returncode == 0, result.stderr
    assert "| 8 | 8 | 33.0 ± 4.2 | 22.0 ± 2.8 | 27.5 ± 3.5 | 2 |" in result.stdout


def test_overrides_and_job_discovery(tmp_path):
    assert parse_overrides(["+experiment=x", "~logger", "paths.root=/a", "hydra.sweep.dir=/b", "cluster.mem_gb=8",
                            "++seed=3", "data.targets=[a,b]"]) == {"experiment": "x", "seed": "3",
                                                                   "data.targets": "[a,b]"}
    for number in (10, 2, 1):
        _job(tmp_path / str(number), [f"seed={number}"])
    assert [job.path.name for job in find_jobs(tmp_path)] == ["1", "2", "10"]
    assert {job.status for job in find_jobs(tmp_path)} == {"unfinished"}


# ---------------------------------------------------------------------------- chapter 3's groups
# Hand-made MAD-G results: the generator trained on en, mt, myv, gn. ar: mBERT-seen; mt, myv: MAD-G-seen;
# fo (Germanic): mBERT-genus; mdf (Mordvin, as myv), gun (Tupi-Guarani, as gn): MAD-G-genus; wbp: unseen-genus.
URIEL = {"ar": "ara", "mt": "mlt", "myv": "myv", "fo": "fao", "mdf": "mdf", "gun": "gun", "wbp": "wbp"}
MADG_SCORES = {  # (protocol, seed) -> accuracy per language
    ("target", 1): {"ar": .80, "mt": .60, "myv": .50, "fo": .40, "mdf": .30, "gun": .20, "wbp": .10},
    ("target", 2): {"ar": .82, "mt": .64, "myv": .54, "fo": .44, "mdf": .34, "gun": .24, "wbp": .14},
    ("source", 1): {"ar": .90, "mt": .40, "myv": .30, "fo": .42, "mdf": .20, "gun": .10, "wbp": .12},
}


def _madg_runs(root: Path) -> Path:
    config = {"lang_module": {"method": "madg", "languages": ["en", "mt", "myv", "gn"], "sample_languages": ["en"]},
              "data": {"use_samples": False}, "task_module": {"method": "adapter"}}
    for number, ((protocol, seed), scores) in enumerate(MADG_SCORES.items()):
        typology = {lang: {"uriel": URIEL[lang], "seen_by_generator": lang in ("mt", "myv")} for lang in scores}
        _job(root / str(number), ["+experiment=madg_ud_pos", f"recipe.protocol={protocol}", f"seed={seed}"],
             {**_results("madg_ud_pos", scores, typology=typology), "task": "pos"},
             {**config, "recipe": {"name": "madg", "protocol": protocol, "finetune": None}})
    return root


def test_group_averages_of_a_madg_sweep(tmp_path):
    report = write_report(_madg_runs(tmp_path / "sweep"), figures=False)
    text = (tmp_path / "sweep" / "report" / "report.md").read_text()
    # Table 3.3's layout for few languages: each language's group under its column
    assert "| method | ar | mt | myv | fo | mdf | gun | wbp | avg | seeds |" in text
    assert "| *group* | *mBERT-seen* | *MAD-G-seen* | *MAD-G-seen* | *mBERT-genus* | *MAD-G-genus* | " \
           "*MAD-G-genus* | *unseen-genus* |  |  |" in text
    # Table 3.1: the groups, their definitions and languages
    assert "| mBERT-seen | seen during mBERT pre-training | 1 | ar |" in text
    assert "| MAD-G-seen | seen only during MAD-G training | 2 | mt myv |" in text
    assert "| unseen | completely unseen | 4 | fo mdf gun wbp |" in text
    assert "| MAD-G-genus | unseen; its genus is seen only during MAD-G training | 2 | mdf gun |" in text
    # Table 3.2's layout. MAD-G, seed 1: 80; (60 + 50) / 2 = 55; (40 + 30 + 20 + 10) / 4 = 25; seed 2: 82, 59, 29
    # -> 81.0 +- 1.4, 57.0 +- 2.8, 27.0 +- 2.8. MAD-G-en: 90; (40 + 30) / 2 = 35; (42 + 20 + 10 + 12) / 4 = 21.
    assert "| method | mBERT-seen | MAD-G-seen | unseen | seeds |" in text
    assert "| MAD-G | 81.0 ± 1.4 | **57.0 ± 2.8** | **27.0 ± 2.8** | 2 |" in text
    assert "| MAD-G-en | **90.0** | 35.0 | 21.0 | 1 |" in text
    # Table 3.4's layout. MAD-G: fo 40, 44 -> 42.0; (30 + 20) / 2 = 25, (34 + 24) / 2 = 29 -> 27.0; wbp 10, 14 -> 12.0
    # MAD-G-en: 42; (20 + 10) / 2 = 15; 12. Equal columns get no bold.
    assert "| method | mBERT-genus | MAD-G-genus | unseen-genus | seeds |" in text
    assert "| MAD-G | 42.0 ± 2.8 | **27.0 ± 2.8** | 12.0 ± 2.8 | 2 |" in text
    assert "| MAD-G-en | 42.0 | 15.0 | 12.0 | 1 |" in text
    # the group averages for machines, and in LaTeX with the same numbers
    with open(tmp_path / "sweep" / "report" / "madg_ud_pos_groups.csv") as handle:
        rows = {(r["label"], r["level"], r["group"]): r for r in csv.DictReader(handle)}
    assert float(rows["MAD-G", "group", "MAD-G-seen"]["mean"]) == pytest.approx(0.57)
    assert rows["MAD-G-en", "subgroup", "MAD-G-genus"]["languages"] == "2"
    assert rows["MAD-G-en", "group", "unseen"]["recipe.protocol"] == "source"
    tex = (tmp_path / "sweep" / "report" / "madg_ud_pos.tex").read_text()
    languages, definitions, groups, subgroups = _latex_rows(tex)
    assert languages[0][0] == "MAD-G" and "\\textit{group}" in tex
    assert groups == [["MAD-G", "81.0 $\\pm$ 1.4", "\\textbf{57.0} $\\pm$ 2.8", "\\textbf{27.0} $\\pm$ 2.8"],
                      ["MAD-G-en", "\\textbf{90.0}", "35.0", "21.0"]]
    assert subgroups[1] == ["MAD-G-en", "42.0", "15.0", "12.0"]
    assert report.tables[0].groups["gun"].genus.genus == "Tupi-Guarani"
    assert "Note:" not in text  # no model named: the thesis's mBERT


def test_group_notes_say_what_the_data_cannot_tell(tmp_path):
    """Without the generator's languages the genus subgroups of MAD-G-genus and unseen-genus languages are left
    open (and said so); a model other than mBERT is named, as mBERT-seen is about mBERT's languages."""
    typology = {"fo": {"uriel": "fao", "seen_by_generator": False}, "mdf": {"uriel": "mdf", "seen_by_generator": False},
                "xx": {"uriel": "xxx", "seen_by_generator": False}}  # a language genera.tsv does not know
    _job(tmp_path / "run", ["+experiment=madg_ud_pos"], _results("madg_ud_pos", {"fo": 0.5, "mdf": 0.4, "xx": 0.3},
                                                                  typology=typology),
         {"model": {"name_or_path": "xlm-roberta-base"}, "lang_module": {"method": "adapter"}})
    (table,) = build_tables(find_jobs(tmp_path))
    assert (table.groups["fo"].subgroup, table.groups["mdf"].subgroup) == ("mBERT-genus", None)
    text = table.markdown()
    assert "| (no subgroup) | unseen; genus not mBERT's, the generator's languages unknown | 1 | mdf |" in text
    assert "| (no subgroup) | unseen; genus unknown (not in xlt/report/genera.tsv) | 1 | xx |" in text
    assert "MAD-G generator's training languages are unknown" in text
    assert "but the model is xlm-roberta-base" in text


def test_groups_of_a_real_smoke_run(tmp_path):
    """results.json of `launch.py +experiment=madg_ud_pos +profile=smoke` (trimmed): the smoke generator trains
    on the bundled sample languages, so mt is MAD-G-seen and myv (Mordvin, a genus none of them has) unseen-genus."""
    shutil.copytree(SMOKE_RUN, tmp_path / "run")
    (table,) = write_report(tmp_path / "run", figures=False).tables
    assert {lang: group.subgroup or group.group for lang, group in table.groups.items()} == \
        {"ar": "mBERT-seen", "bam": "unseen-genus", "fo": "mBERT-genus", "mt": "MAD-G-seen", "myv": "unseen-genus"}
    text = (tmp_path / "run" / "report" / "report.md").read_text()
    assert "## MAD-G on UD POS (`madg_ud_pos`): POS, accuracy (%)" in text
    assert "| method | ar | bam | fo | mt | myv | avg | seeds |" in text  # the run's method, from its config
    assert "| MAD-G | 40.6 | 31.6 | 41.8 | 38.8 | 44.4 | 39.5 | 1 |" in text
    # (31.6 + 41.8 + 44.4) / 3 = 39.3
    assert "| MAD-G | 40.6 | 38.8 | 39.3 | 1 |" in text


def test_groups_reproduce_table_a2_and_table_3_3():
    """With the thesis's generator languages (Table A.1) and seen_by_generator as the pipeline computes it (URIEL
    codes), every UD language gets Table A.2's group (56 / 6 / 33; unseen: 21 / 4 / 8), every MasakhaNER language
    Table 3.3's."""
    trained = set(TRAINING.values())
    typology = {lang: {"uriel": uriel, "seen_by_generator": uriel in trained} for lang, (uriel, _) in UD.items()}
    groups = classify(typology, list(TRAINING))
    assert {lang: group.subgroup or group.group for lang, group in groups.items()} == \
        {lang: group for lang, (_, group) in UD.items()}
    ner = {lang: {"uriel": uriel, "seen_by_generator": uriel in trained} for lang, (uriel, _) in MASAKHANER.items()}
    assert {lang: group.group for lang, group in classify(ner, list(TRAINING)).items()} == \
        {lang: group for lang, (_, group) in MASAKHANER.items()}
    assert len({code for code in mbert_languages() if len(code) <= 3}) >= 103  # Wikipedia and ISO 639-3 codes
    assert all(code in genera() for code in [*TRAINING, *UD, *MASAKHANER])


def test_a_madg_run_over_many_languages_lists_them_as_rows(tmp_path):
    """Table A.3's layout: with more than 12 languages, one row per language with its group, one column per
    method; the best method per language in bold."""
    trained = set(TRAINING.values())
    languages = list(UD)[:20]
    typology = {lang: {"uriel": UD[lang][0], "seen_by_generator": UD[lang][0] in trained} for lang in languages}
    config = {"lang_module": {"method": "madg", "languages": list(TRAINING)}, "data": {"use_samples": False}}
    for number, protocol in enumerate(("target", "ta_only")):
        scores = {lang: 0.5 + (0.01 * i if protocol == "target" else 0.0) for i, lang in enumerate(languages)}
        _job(tmp_path / str(number), ["+experiment=madg_ud_pos", f"recipe.protocol={protocol}"],
             _results("madg_ud_pos", scores, typology=typology),
             {**config, "recipe": {"name": "madg", "protocol": protocol}})
    text = write_report(tmp_path, figures=False).tables[0].markdown()
    assert "| language | group | MAD-G | TA-only |" in text
    assert "| af | mBERT-seen | 50.0 | 50.0 |" in text  # a tie: no bold
    assert "| ajp | mBERT-genus | **51.0** | 50.0 |" in text
    assert "| bxr | MAD-G-seen | **61.0** | 50.0 |" in text
