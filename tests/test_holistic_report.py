"""Chapter 6's reports (thesis §6.4): Table 6.2's layout (rows grouped by PEFT family, the configurations in
the thesis's order, languages + avg), Table 6.4's NLLB sizes, Figure 6.1's line over K with its std band;
and the sweep files that produce them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_report import _job, _results
from xlt.models.nmt import language_table
from xlt.report import build_tables, find_jobs, write_report
from xlt.report.figures import draw_table
from xlt.report.labels import experiment_title, format_value, key_label, key_number

SWEEPS = Path(__file__).resolve().parents[1] / "sweeps"
CONF = SWEEPS.parent / "conf"
HOLISTIC_SWEEPS = {
    "holistic_table_6_2_americasnli", "holistic_table_6_2_nusax", "holistic_table_6_3_americasnli",
    "holistic_table_6_3_nusax", "holistic_table_6_4_americasnli", "holistic_table_6_4_nusax",
    "holistic_figure_6_1_americasnli", "holistic_figure_6_1_nusax",
}


def _configuration_sweep(root: Path) -> Path:
    """Table 6.2 in miniature: three configurations x {LT-SFT, MAD-X}, listed out of the thesis's order."""
    scores = {("ltsft", "ttest"): (0.40, 0.30), ("ltsft", "zs"): (0.50, 0.40), ("ltsft", "fs_ttrain_all"): (0.7, 0.6),
              ("adapter", "zs"): (0.45, 0.35), ("adapter", "fs_ttrain_all"): (0.65, 0.55)}
    for number, ((family, configuration), (aym, bzd)) in enumerate(scores.items()):
        _job(root / str(number), ["+experiment=holistic_americasnli", f"lang_module={family}",
                                  f"task_module={family}", f"recipe.configuration={configuration}"],
             _results("holistic_americasnli", {"aym": aym, "bzd": bzd}))
    return root


def test_table_6_2_layout(tmp_path):
    report = write_report(_configuration_sweep(tmp_path / "multirun"))
    (table,) = report.tables
    assert table.label_headers == ["method", "configuration"]
    assert [row.labels for row in table.rows] == [["LT-SFT", "ZS"], ["LT-SFT", "FS + TTRAIN-ALL"], ["LT-SFT", "TTEST"],
                                                  ["MAD-X", "ZS"], ["MAD-X", "FS + TTRAIN-ALL"]]
    text = (tmp_path / "multirun" / "report" / "report.md").read_text()
    assert "## Holistic transfer on AmericasNLI (`holistic_americasnli`): NLI, accuracy (%)" in text
    assert "| method | configuration | aym | bzd | avg | seeds |" in text
    # as the thesis marks Table 6.2: bold the best within each PEFT family, underlined the best overall
    assert "in bold the best of each method, underlined the best overall" in text
    assert "| LT-SFT | FS + TTRAIN-ALL | <u>**70.0**</u> | <u>**60.0**</u> | <u>**65.0**</u> | 1 |" in text
    assert "| MAD-X | FS + TTRAIN-ALL | **65.0** | **55.0** | **60.0** | 1 |" in text
    assert "| LT-SFT | ZS | 50.0 | 40.0 | 45.0 | 1 |" in text
    latex = (tmp_path / "multirun" / "report" / "holistic_americasnli.tex").read_text()
    assert "\\underline{\\textbf{70.0}}" in latex and "\\textbf{65.0}" in latex and "\\underline{65.0" not in latex
    assert "recipe.configuration" not in text.replace("`", "")


def test_nmt_sizes_and_shots_read_as_the_thesis_writes_them():
    assert experiment_title("holistic_nusax") == "Holistic transfer on NusaX"
    assert [format_value("nmt", size) for size in ("nllb_600m", "nllb_1_3b", "nllb_3_3b")] == \
        ["NLLB 600M", "NLLB 1.3B", "NLLB 3.3B"]
    assert [key_number("nmt", size) for size in ("nllb_600m", "nllb_1_3b", "nllb_3_3b")] == [6e8, 1.3e9, 3.3e9]
    assert key_label("nmt") == "NLLB model size" and key_label("recipe.shots.k") == "shots per language (K)"
    assert key_label("recipe.configuration") == "configuration"


def test_figure_6_1_shots_with_a_std_band(tmp_path):
    import matplotlib.pyplot as plt

    root = tmp_path / "multirun"
    number = 0
    for family in ("ltsft", "adapter"):
        for k in (0, 20, 100, 500):
            for seed in (1, 2):
                score = 0.4 + k / 2000 + 0.02 * seed + (0.05 if family == "ltsft" else 0.0)
                _job(root / str(number), ["+experiment=holistic_americasnli", f"lang_module={family}",
                                          f"task_module={family}", "recipe.configuration=fs_single",
                                          f"recipe.shots.k={k}", f"seed={seed}"],
                     _results("holistic_americasnli", {"aym": score, "bzd": score}))
                number += 1
    (table,) = build_tables(find_jobs(root))
    assert [row.seeds for row in table.rows] == [2] * 8
    stem, figure = draw_table(table)
    axes = figure.axes[0]
    assert stem == "holistic_americasnli_recipe.shots.k"
    assert axes.get_xlabel() == "shots per language (K)" and axes.get_xscale() == "linear"  # K = 0 is on it
    assert axes.get_ylabel() == "average accuracy (%)"
    assert [t.get_text() for t in axes.get_xticklabels()] == ["0", "20", "100", "500"]
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["LT-SFT", "MAD-X"]
    assert len(axes.collections) >= 2 and any(c.get_alpha() == pytest.approx(0.2) for c in axes.collections)  # bands
    plt.close(figure)
    report = write_report(root)
    assert {p.name for p in report.files} >= {"holistic_americasnli_recipe.shots.k.png",
                                              "holistic_americasnli_recipe.shots.k.pdf", "report.md"}


def test_table_6_4_sorts_and_plots_nllb_sizes(tmp_path):
    root = tmp_path / "multirun"
    for number, (size, score) in enumerate((("nllb_3_3b", 0.62), ("nllb_600m", 0.58), ("nllb_1_3b", 0.60))):
        _job(root / str(number), ["+experiment=holistic_americasnli", "recipe.configuration=ttrain_all",
                                  f"nmt={size}"], _results("holistic_americasnli", {"aym": score}))
    (table,) = build_tables(find_jobs(root))
    assert [row.labels for row in table.rows] == [["NLLB 600M"], ["NLLB 1.3B"], ["NLLB 3.3B"]]
    stem, figure = draw_table(table)
    assert figure.axes[0].get_xscale() == "log" and figure.axes[0].get_xlabel() == "NLLB model size"


@pytest.mark.parametrize("name", sorted(HOLISTIC_SWEEPS))
def test_sweep_files_compose(name, tmp_path):
    """Each sweep file is a config of its own (``--config-dir sweeps --config-name NAME``): it composes, and
    its swept values are valid choices."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from xlt.pipeline.recipes.holistic import CONFIGURATIONS

    assert {p.stem for p in SWEEPS.glob("holistic_*.yaml")} == HOLISTIC_SWEEPS
    with initialize_config_dir(str(SWEEPS), version_base="1.3"):
        cfg = compose(name, overrides=[f"paths.root={tmp_path}", f"hydra.searchpath=[file://{CONF}]"],
                      return_hydra_config=True)
    params = OmegaConf.to_container(cfg.hydra.sweeper.params)
    assert cfg.name == name.split("_")[0] + "_" + name.rsplit("_", 1)[-1]  # the experiment
    for configuration in str(params.get("recipe.configuration", cfg.recipe.configuration)).split(","):
        assert configuration in CONFIGURATIONS
    if "table_6_2" in name or "figure_6_1" in name or "table_6_3" in name:
        assert cfg.hydra.sweeper.zip == [["lang_module", "task_module"]]
        assert params["lang_module"] == params["task_module"] == "ltsft,adapter"
    if "figure_6_1" in name:
        assert params["recipe.shots.k"] == "0,20,100,500" and len(str(params["seed"]).split(",")) >= 3
    if "table_6_4" in name:
        assert params["nmt"] == "nllb_600m,nllb_1_3b,nllb_3_3b" and cfg.recipe.configuration == "ttrain_all"
        table = language_table()
        assert all(table[t].nllb for t in cfg.data.targets)  # Table 6.4: the languages NLLB supports
    if name.endswith("nusax") and "table_6_4" not in name:
        assert "nij" not in cfg.data.targets  # §6.4 fn. 4: the main results leave Ngaju out


# accuracy on (aym, gn) per (family, configuration); corpus sizes in words recorded by the runs with modules
ABLATION_SCORES = {("adapter", "zs"): (0.50, 0.40), ("adapter", "zs_la"): (0.40, 0.38),
                   ("adapter", "ttrain_all"): (0.60, 0.58), ("adapter", "ttrain_all_la"): (0.58, 0.57),
                   ("ltsft", "zs"): (0.52, 0.42), ("ltsft", "zs_la"): (0.44, 0.40)}
CORPUS_WORDS = {"aym": 2_000_000, "gn": 30_000}


def _ablation_sweeps(root: Path) -> Path:
    """Table 6.3 in miniature: ablations of AmericasNLI (listed out of order) and two NusaX rows (macro-F1)."""
    for number, ((family, configuration), (aym, gn)) in enumerate(ABLATION_SCORES.items()):
        extra = {} if configuration.endswith("_la") else {"corpus_words": CORPUS_WORDS}
        _job(root / "anli" / str(number), ["+experiment=holistic_americasnli", f"lang_module={family}",
                                           f"task_module={family}", f"recipe.configuration={configuration}"],
             _results("holistic_americasnli", {"aym": aym, "gn": gn}, **extra))
    for number, (configuration, score) in enumerate((("zs_la", 0.70), ("zs", 0.75))):
        _job(root / "nusax" / str(number), ["+experiment=holistic_nusax", "lang_module=adapter",
                                            "task_module=adapter", f"recipe.configuration={configuration}"],
             _results("holistic_nusax", {"ace": score}, metric="macro_f1"))
    return root


def test_table_6_3_ablations_by_family_with_a_column_per_task(tmp_path):
    out = tmp_path / "multirun" / "report"
    report = write_report(_ablation_sweeps(tmp_path / "multirun"))
    text = (out / "report.md").read_text()
    assert "| method | configuration | AmericasNLI (accuracy, %) | NusaX (macro-F1, %) | seeds |" in text
    ablations = text[text.index("## Holistic transfer ablations (Table 6.3)"):]
    rows = [line for line in ablations.splitlines() if line.startswith("| MAD-X |") or line.startswith("| LT-SFT |")]
    assert rows == ["| MAD-X | ZS | **45.00** | **75.00** | 1 |", "| MAD-X | ZS – LA | 39.00 | 70.00 | 1 |",
                    "| MAD-X | TTRAIN-ALL | **59.00** | - | 1 |", "| MAD-X | TTRAIN-ALL – LA | 57.50 | - | 1 |",
                    "| LT-SFT | ZS | **47.00** | - | 1 |", "| LT-SFT | ZS – LA | 42.00 | - | 1 |"]
    lines = (out / "holistic_table_6_3.csv").read_text().splitlines()
    assert lines[0].startswith("method,recipe.configuration,label,holistic_americasnli,holistic_americasnli_std")
    assert lines[1].startswith("MAD-X,zs,ZS,0.45,,1,0.75")
    tex = (out / "holistic_table_6_3.tex").read_text()
    assert "MAD-X & ZS – LA & 39.00 & 70.00 \\\\" in tex
    assert "MAD-X & ZS & \\textbf{45.00} & \\textbf{75.00} \\\\" in tex
    figure = out / "holistic_americasnli_figure_6_2"
    assert {figure.with_suffix(".png"), figure.with_suffix(".pdf")} <= set(report.files)
    assert (out / "holistic_americasnli_figure_6_2.png").stat().st_size > 0
    assert "Figure 6.2 (holistic_nusax) not drawn" in text  # NusaX's runs recorded no corpus sizes


def test_figure_6_2_gains_against_the_recorded_corpus_sizes(tmp_path):
    from xlt.report.holistic import build_holistic_report

    report = build_holistic_report(find_jobs(_ablation_sweeps(tmp_path / "multirun")))
    assert report is not None
    gains = report.gains("holistic_americasnli", "adapter")
    assert list(gains) == ["ZS", "TTRAIN-ALL"]  # no FS pair in this sweep
    assert [(lang, words) for lang, words, _ in gains["ZS"]] == [("gn", 30_000), ("aym", 2_000_000)]
    assert [round(gain, 4) for _, _, gain in gains["ZS"]] == [0.02, 0.10]
    assert [round(gain, 4) for _, _, gain in gains["TTRAIN-ALL"]] == [0.01, 0.02]
    figure = report.draw_gains("holistic_americasnli")
    axes = figure.axes
    assert [a.get_title() for a in axes] == ["MAD-X", "LT-SFT"]
    assert axes[0].get_xscale() == "log" and axes[0].get_xlabel() == "monolingual corpus size (words)"
    assert axes[0].get_ylabel() == "gain from language adaptation, accuracy (points)"
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["ZS", "TTRAIN-ALL"]


def test_corpus_size_is_counted_in_words():
    import datasets

    from xlt.pipeline.stages.language_module import corpus_words

    corpus = datasets.Dataset.from_dict({"text": ["two words", " three  more words ", ""]})
    assert corpus_words(corpus) == 5


def test_table_6_3_keeps_other_sweeps_apart(tmp_path):
    """Reported together with Figure 6.1's FS runs at other K, Table 6.3's rows stay the runs with K as configured
    and the others get rows of their own, named; Figure 6.2 uses the most common variant."""
    from xlt.report.holistic import build_holistic_report

    root = _ablation_sweeps(tmp_path / "multirun")
    for number, k in enumerate(("20", "500")):
        _job(root / "figure_6_1" / str(number), ["+experiment=holistic_americasnli", "lang_module=adapter",
                                                 "task_module=adapter", f"recipe.shots.k={k}"],
             _results("holistic_americasnli", {"aym": 0.9, "gn": 0.9}, configuration={"name": "fs_single"}))
    report = build_holistic_report(find_jobs(root))
    assert report is not None
    labels = [report.grid().rows[i].labels for i in range(len(report.rows))]
    assert labels[:5] == [["MAD-X", "ZS"], ["MAD-X", "ZS – LA"], ["MAD-X", "FS (shots per language (K) = 20)"],
                          ["MAD-X", "FS (shots per language (K) = 500)"], ["MAD-X", "TTRAIN-ALL"]]
    assert report.cells[("adapter", "zs", "", "holistic_americasnli")].values == [0.45]  # not pooled with others
    assert report.grid().rows[0].cells[1] is not None  # NusaX's ZS on the same row
    assert list(report.gains("holistic_americasnli", "adapter")) == ["ZS", "TTRAIN-ALL"]


def test_table_6_3_bolds_the_best_of_each_configuration_and_its_ablations(tmp_path):
    """Thesis Table 6.3: per column (family x task), the best of ZS / ZS – LA, of FS / FS – LA / FS – UPSAMPLE and
    of TTRAIN-ALL / TTRAIN-ALL – LA in bold, whichever row wins (here FS – UPSAMPLE once); each family apart, and
    rows of another variant (K = 20) compared only with each other."""
    root = tmp_path / "multirun"
    scores = {("adapter", "zs", "100"): 0.50, ("adapter", "zs_la", "100"): 0.40,
              ("adapter", "fs_single", "100"): 0.55, ("adapter", "fs_la", "100"): 0.45,
              ("adapter", "fs_upsample", "100"): 0.57, ("adapter", "fs_single", "20"): 0.52,
              ("adapter", "fs_la", "20"): 0.53, ("adapter", "ttrain_all", "100"): 0.60,
              ("adapter", "ttrain_all_la", "100"): 0.58, ("ltsft", "zs", "100"): 0.30,
              ("ltsft", "zs_la", "100"): 0.35}
    for number, ((family, configuration, k), score) in enumerate(scores.items()):
        shots = [] if k == "100" else [f"recipe.shots.k={k}"]  # K = 100: as the experiment configures it
        _job(root / str(number), ["+experiment=holistic_americasnli", f"lang_module={family}", f"task_module={family}",
                                  f"recipe.configuration={configuration}", *shots],
             _results("holistic_americasnli", {"aym": score}))
    for number, (configuration, score) in enumerate((("zs", 0.70), ("zs_la", 0.75))):
        _job(root / "nusax" / str(number), ["+experiment=holistic_nusax", "lang_module=adapter", "task_module=adapter",
                                            f"recipe.configuration={configuration}"],
             _results("holistic_nusax", {"ace": score}, metric="macro_f1"))
    write_report(root)
    out = root / "report"
    text = (out / "report.md").read_text()
    ablations = text[text.index("## Holistic transfer ablations (Table 6.3)"):]
    assert "in bold the best of each configuration and its ablations" in ablations
    rows = [line for line in ablations.splitlines() if line.startswith(("| MAD-X |", "| LT-SFT |"))]
    k20 = "shots per language (K) = 20"
    assert rows == [
        "| MAD-X | ZS | **50.00** | 70.00 | 1 |",
        "| MAD-X | ZS – LA | 40.00 | **75.00** | 1 |",
        "| MAD-X | FS | 55.00 | - | 1 |",
        f"| MAD-X | FS ({k20}) | 52.00 | - | 1 |",
        "| MAD-X | FS – LA | 45.00 | - | 1 |",
        f"| MAD-X | FS – LA ({k20}) | **53.00** | - | 1 |",
        "| MAD-X | FS – UPSAMPLE | **57.00** | - | 1 |",
        "| MAD-X | TTRAIN-ALL | **60.00** | - | 1 |",
        "| MAD-X | TTRAIN-ALL – LA | 58.00 | - | 1 |",
        "| LT-SFT | ZS | 30.00 | - | 1 |",
        "| LT-SFT | ZS – LA | **35.00** | - | 1 |"]
    tex = (out / "holistic_table_6_3.tex").read_text()
    assert "MAD-X & FS – UPSAMPLE & \\textbf{57.00} & - \\\\" in tex
    assert "MAD-X & FS & 55.00 & - \\\\" in tex
    assert "LT-SFT & ZS – LA & \\textbf{35.00} & - \\\\" in tex


def test_figure_6_2_stays_legible_with_one_panel_and_corpora_within_a_decade(tmp_path):
    """The smoke corpora hold 3,280-3,430 words: the log axis's labels (matplotlib labels the minor ticks of a
    span under a decade, 3.28×10³ by default) must not overlap, and one panel's title must fit the figure."""
    import matplotlib.pyplot as plt

    from xlt.report.holistic import build_holistic_report

    root = tmp_path / "multirun"
    sizes = {"aym": 3_283, "bzd": 3_301, "cni": 3_318, "gn": 3_347, "hch": 3_358, "nah": 3_380, "oto": 3_430}
    for number, (configuration, score) in enumerate((("zs", 0.5), ("zs_la", 0.4), ("fs_single", 0.6))):
        extra = {} if configuration.endswith("_la") else {"corpus_words": sizes}
        _job(root / str(number), ["+experiment=holistic_americasnli", "lang_module=ltsft", "task_module=ltsft",
                                  f"recipe.configuration={configuration}"],
             _results("holistic_americasnli", dict.fromkeys(sizes, score), **extra))
    report = build_holistic_report(find_jobs(root))
    assert report is not None
    figure = report.draw_gains("holistic_americasnli")
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    (axes,) = figure.axes[:1]
    labels = [label for label in axes.get_xticklabels(minor=False) + axes.get_xticklabels(minor=True)
              if label.get_visible() and label.get_text() and axes.get_xlim()[0] <= label.get_position()[0]
              <= axes.get_xlim()[1]]
    assert len(labels) >= 2
    boxes = sorted((label.get_window_extent(renderer) for label in labels), key=lambda box: box.x0)
    assert all(left.x1 <= right.x0 for left, right in zip(boxes, boxes[1:]))  # no two labels overlap
    title = figure._suptitle.get_window_extent(renderer)
    assert 0 <= title.x0 and title.x1 <= figure.bbox.width and title.y1 <= figure.bbox.height
    plt.close(figure)
