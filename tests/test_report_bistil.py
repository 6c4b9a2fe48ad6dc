"""Chapter 5 in the report (Tables 5.2-5.7, Figure 5.1) and the sweeps that produce them: a sweep of BiStil
variants and LRFs gives one row per (method, LRF) with the thesis's method names, an efficiency table
(#L, #V, #P, FLOPs per example, FLOPs/CPU/GPU ratios relative to LtSft) and Figure 5.1 (average score against
parameters and FLOPs) as PNG and PDF; the sweep files pair variant and LRF as Tables 5.3-5.6's rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from tests.helpers import compose_config
from tests.test_report import _job
from xlt.cluster.sweeper import zip_sweep
from xlt.config import parse
from xlt.pipeline.recipes.bistil import BiStilConfig
from xlt.report import build_tables, find_jobs, write_report
from xlt.report.figures import draw_efficiency

REPO = Path(__file__).resolve().parents[1]

# (variant, lrf) -> (hau F1, yor F1, #L, #V, #P, GFLOPs/example, CPU speed-up, GPU speed-up): Table 5.4/5.7(b)-like
NER_ROWS = {
    ("ltsft", 1): (0.835, 0.748, 12, 119547, 177.3e6, 22.4, 1.0, 1.0),
    ("distilmbert", 2): (0.811, 0.712, 6, 119547, 134.7e6, 11.2, 1.93, 1.94),
    ("tf", 2): (0.810, 0.757, 6, 31000, 67.0e6, 11.2, 1.97, 1.98),
    ("tf", 3): (0.796, 0.728, 4, 31000, 53.0e6, 7.5, 2.97, 2.78),
}


def _ner_run(root: Path) -> Path:
    for number, ((variant, lrf), (hau, yor, layers, vocab, params, gflops, cpu, gpu)) in enumerate(NER_ROWS.items()):
        reference = NER_ROWS[("ltsft", 1)]
        efficiency = {"target": "hau", "test_examples": 10,
                      "measured": {"layers": layers, "vocab": vocab, "parameters": params,
                                   "flops_per_example": gflops * 1e9},
                      "reference": {"layers": 12, "vocab": 119547, "parameters": reference[4],
                                    "flops_per_example": reference[5] * 1e9},
                      "relative": {"flops_ratio": gflops / reference[5], "cpu_speedup": cpu, "gpu_speedup": gpu,
                                   "parameters_ratio": params / reference[4]}}
        results = {"experiment": "bistil_masakhaner", "task": "ner", "metric": "f1", "variant": variant, "lrf": lrf,
                   "languages": {"hau": {"f1": hau}, "yor": {"f1": yor}}, "average": {"f1": (hau + yor) / 2},
                   "efficiency": efficiency}
        _job(root / str(number), ["+experiment=bistil_masakhaner", f"recipe.variant={variant}",
                                  f"recipe.lrf={lrf}"], results)
    return root


def test_bistil_sweep_report_names_methods_and_renders_the_efficiency_table_and_figure(tmp_path):
    import matplotlib.pyplot as plt

    runs = _ner_run(tmp_path / "multirun")
    report = write_report(runs)
    text = (runs / "report" / "report.md").read_text()
    assert "## BiStil on MasakhaNER (`bistil_masakhaner`): NER, F1 (%)" in text
    assert "| method | layer reduction factor (LRF) | hau | yor | avg | seeds |" in text
    # the thesis's row order (LtSft, DistilmBERT, ..., BiStil-TF) and names, the undistilled model at LRF 1
    assert text.index("| LtSft | 1 | **83.5** |") < text.index("| DistilmBERT | 2 |") < \
        text.index("| BiStil-TF | 2 |") < text.index("| BiStil-TF | 3 |")
    # Tables 5.2 / 5.7: dimensions and ratios relative to LtSft, with human headers
    assert "Efficiency (Tables 5.2, 5.7): the model with its task module on hau's test set" in text
    assert ("| method | layer reduction factor (LRF) | #L | #V (K) | #P (M) | FLOPs/example (G) | FLOPs ↓ | CPU ↑ | "
            "GPU ↑ | runs |") in text
    assert "| BiStil-TF | 3 | 4 | 31.0 | 53.0 | 7.50 | 0.33 | 2.97 | 2.78 | 1 |" in text
    assert "| LtSft | 1 | 12 | 119.5 | 177.3 | 22.40 | 1.00 | 1.00 | 1.00 | 1 |" in text
    # Figure 5.1: PNG and PDF, score against parameters and FLOPs, one labelled point per method
    names = sorted(p.name for p in report.files if "efficiency" in p.name)
    assert names == ["bistil_masakhaner_efficiency.pdf", "bistil_masakhaner_efficiency.png"]
    assert (runs / "report" / names[1]).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert (runs / "report" / names[0]).read_bytes().startswith(b"%PDF")
    [table] = build_tables(find_jobs(runs))
    figure = draw_efficiency(table)
    by_size, by_flops = figure.axes
    assert by_size.get_xlabel() == "parameters (millions)" and by_flops.get_xlabel() == "FLOPs per example (billions)"
    assert by_size.get_ylabel() == "average F1 (%)"
    legend = [t.get_text() for t in by_size.get_legend().get_texts()]
    assert legend == ["LtSft, 1", "DistilmBERT, 2", "BiStil-TF, 2", "BiStil-TF, 3"]
    points = [tuple(collection.get_offsets()[0]) for collection in by_flops.collections]
    assert points[3] == pytest.approx((7.5, 100 * (0.796 + 0.728) / 2))
    plt.close(figure)


# the rows of Tables 5.3-5.6 (method, LRF); LtSft is the undistilled model (LRF 1)
TABLE_ROWS = {
    "bistil_ud_dp_table": ("bistil_ud_dp", [("ltsft", 1), ("distilmbert", 2), ("scratch", 2), ("st", 2), ("st", 3),
                                            ("tf", 2), ("tf", 3)]),
    "bistil_masakhaner_table": ("bistil_masakhaner", [("ltsft", 1), ("distilmbert", 2), ("st", 2), ("st", 3),
                                                      ("tf", 2), ("tf", 3)]),
    "bistil_americasnli_table": ("bistil_americasnli", [("ltsft", 1), ("tf", 2), ("tf", 3)]),
    "bistil_xquad_table": ("bistil_xquad", [("ltsft", 1), ("minilm", 2), ("tf", 2), ("tf", 3)]),
}


def test_a_run_without_the_swept_key_shows_its_configured_value(tmp_path):
    """A BiStil-ST run left at the default LRF beside runs that set it: its row reads LRF 2 from its config."""
    runs = _ner_run(tmp_path / "multirun")
    results = {"experiment": "bistil_masakhaner", "task": "ner", "metric": "f1", "variant": "st", "lrf": 2,
               "languages": {"hau": {"f1": 0.81}, "yor": {"f1": 0.72}}, "average": {"f1": 0.765}}
    _job(runs / "4", ["+experiment=bistil_masakhaner", "recipe.variant=st"], results,
         config={"recipe": {"name": "bistil", "variant": "st", "lrf": 2}})
    [table] = build_tables(find_jobs(runs))
    assert [row.label for row in table.rows] == ["LtSft, 1", "DistilmBERT, 2", "BiStil-ST, 2", "BiStil-TF, 2",
                                                 "BiStil-TF, 3"]


@pytest.mark.parametrize("sweep", list(TABLE_ROWS))
def test_sweep_files_give_the_rows_of_tables_5_3_to_5_6(sweep, tmp_path):
    experiment, rows = TABLE_ROWS[sweep]
    node = OmegaConf.load(REPO / "sweeps" / f"{sweep}.yaml")
    assert f"experiment: {experiment}" in [str(entry) if isinstance(entry, str) else
                                           f"experiment: {entry['experiment']}" for entry in node.defaults]
    sweeper = node.hydra.sweeper
    arguments = [f"{key}={value}" for key, value in sweeper.params.items()]
    jobs = zip_sweep(OverridesParser.create().parse_overrides(arguments), [list(g) for g in sweeper.zip])
    pairs = [(job[0].split("=")[1], int(job[1].split("=")[1])) for job in jobs]
    assert pairs == rows
    for job in jobs:  # each job's recipe config is valid (its variant is a variant or a baseline of the experiment)
        config = compose_config([f"+experiment={experiment}", *job], tmp_path)
        recipe = parse(BiStilConfig, OmegaConf.to_container(config.recipe, resolve=True), "recipe")
        assert (recipe.variant, recipe.lrf) in rows
