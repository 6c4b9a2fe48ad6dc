"""The whole plan is checked before the first stage trains (issue 10, item 14): every module config's
values when the experiment is built (errors name the full key), and every data file an unfinished
stage will read before any stage is built; and a learning rate set on the command line reaches the
optimiser (item 10)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.helpers import compose_config, experiments, launch
from xlt.data.synthetic import SAMPLES_DIR
from xlt.errors import ConfigError, DataError
from xlt.pipeline.experiment import Experiment
from xlt.pipeline.recipes import plan_experiment
from xlt.pipeline.runner import Runner, Stage
from xlt.pipeline.store import ArtifactStore
from xlt.utils.hashing import stable_hash

BAD_VALUES = [
    # (experiment, overrides, the start of the one-line error)
    ("ltsft_americasnli", ["task_module.density=-0.1"], "task_module.density=-0.1: must be > 0 and <= 1"),
    ("ltsft_americasnli", ["task_module.density=1.5"], "task_module.density=1.5: must be > 0 and <= 1"),
    ("ltsft_americasnli", ["task_module.num_trainable=0"], "task_module.num_trainable=0: must be >= 1"),
    ("ltsft_americasnli", ["task_module.num_trainable=null"], "task_module: ltsft needs a budget"),
    ("ltsft_americasnli", ["lang_module.density=2", "lang_module.num_trainable=null"], "lang_module.density=2"),
    ("ltsft_americasnli", ["task_module.l1_lambda=-1"], "task_module.l1_lambda=-1: must be >= 0"),
    ("ltsft_americasnli", ["+task_module.phase1.lrr=1"], "task_module.phase1: unknown key 'lrr'"),
    ("ltsft_americasnli", ["+lang_module.phase2.lr=-1"], "lang_module.phase2.lr=-1: must be > 0"),
    ("ltsft_americasnli", ["+task_module.phase2.batch_size=0.5"], "task_module.phase2.batch_size=0.5: expected an"),
    ("ltsft_americasnli", ["lang_module.train.batch_size=0"], "lang_module.train.batch_size=0: must be >= 1"),
    ("ltsft_americasnli", ["lang_module.mlm.mlm_probability=1.5"], "lang_module.mlm.mlm_probability=1.5"),
    ("ltsft_americasnli", ["task.train.warmup_ratio=2"], "task.train.warmup_ratio=2: must be >= 0 and <= 1"),
    ("ltsft_americasnli", ["task.train.lr=0"], "task.train.lr=0: must be > 0"),
    ("ltsft_americasnli", ["task.train.batch_size=abc"], "task.train.batch_size='abc': expected an integer"),
    ("ltsft_americasnli", ["+task_module.train.lr=1"], "task_module.train: a task module trains with the task's"),
    ("madx_americasnli", ["task_module.reduction_factor=0"], "task_module.reduction_factor=0: must be > 0"),
    ("madx_americasnli", ["task_module.init=xavier"], "task_module.init='xavier': expected one of bert, zero_up"),
    ("madx_americasnli", ["lang_module.non_linearity=sigmoid"], "lang_module.non_linearity='sigmoid'"),
    ("madx_americasnli", ["lang_module.leave_out=last"], "lang_module.leave_out='last'"),
    ("madg_americasnli", ["lang_module.language_dim=0"], "lang_module.language_dim=0: must be >= 1"),
    ("madg_americasnli", ["lang_module.smoothing=-0.5"], "lang_module.smoothing=-0.5: must be >= 0"),
    ("spiel_flan", ["task_module.replace_rate=2"], "task_module.replace_rate=2: must be >= 0 and <= 1"),
    ("spiel_flan", ["task_module.window=50"], "task_module.window=50: must be >= 1 and <= 20"),
    ("spiel_flan", ["task_module.schedule=step"], "task_module.schedule='step': expected one of linear, cosine"),
    ("spiel_flan", ["task_module.betas=[0.9]"], "task_module.betas=[0.9]: expected [beta1, beta2]"),
    ("spiel_flan", ["task_module.density=0.01"], "task_module: set exactly one of rank, density, num_trainable"),
    ("spiel_flan", ["task_module=spiel_ma", "task_module.grad_mode=fast"], "task_module.grad_mode='fast'"),
    ("spiel_flan", ["task.train.weight_decay=0.1"], "task.train.weight_decay=0.1: spiel_ag decays towards"),
    ("spiel_flan", ["task_module=lora", "task_module.dropout=1"], "task_module.dropout=1: must be >= 0 and < 1"),
    ("spiel_flan", ["task_module=lora", "task_module.alpha=0"], "task_module.alpha=0: must be > 0"),
    ("spiel_flan", ["task_module=ia3", "task_module.quantize=int8"], "task_module.quantize='int8'"),
    ("ltsft_ud_dp", ["task_module=lora"], "task_module.phase1: method 'lora' trains in one phase"),
    ("ltsft_americasnli", ["task_module=adapter", "+task_module.phase2={max_epochs: 2}"],
     "task_module.phase2: method 'adapter' trains in one phase"),
    ("spiel_flan", ["+task_module.lr=1e-5"], "task_module.lr: a module has no learning rate of its own; set "
                                             "task.train.lr"),
]


@pytest.mark.parametrize(("experiment", "overrides", "message"), BAD_VALUES,
                         ids=[" ".join(o) for _, o, _ in BAD_VALUES])
def test_a_bad_module_value_fails_when_the_experiment_is_built(experiment, overrides, message, tmp_path):
    cfg = compose_config([f"+experiment={experiment}", *overrides], tmp_path)
    with pytest.raises(ConfigError, match="^" + re.escape(message)):
        Experiment(cfg, tmp_path / "run")


def test_good_phase_overrides_keep_the_artifact_key(tmp_path):
    """Typed phase overrides hash as the keys given (existing artifacts keep their keys)."""
    from xlt.schedule import Schedule, ScheduleOverrides

    exp = Experiment(compose_config(["+experiment=ltsft_ud_pos"], tmp_path), tmp_path / "run")
    assert isinstance(exp.task_module.phase1, ScheduleOverrides) and isinstance(exp.task_module.phase2, dict)
    spec = exp.module_spec(exp.task_module)
    assert spec["phase1"] == {"max_epochs": 3} and spec["phase2"] == {}
    assert stable_hash(spec) == stable_hash({**spec, "phase1": {"max_epochs": 3}, "phase2": {}})
    phase1 = exp.task_module.phase1
    assert Schedule(lr=2e-5, max_epochs=10).merged(phase1, "task_module.phase1").max_epochs == 3


def test_bad_density_fails_in_seconds_before_any_training(tmp_path, cache_dir):
    """Acceptance: `task_module.density=-0.1` fails in under a minute naming the full key; nothing is written
    but the error record (no artifacts, no results.json)."""
    root, run_dir = tmp_path / "root", tmp_path / "run"
    start = time.perf_counter()
    result = launch(["+experiment=ltsft_americasnli", "+profile=smoke", "task_module.density=-0.1",
                     f"paths.root={root}", f"hydra.run.dir={run_dir}"], cache_dir, timeout=120)
    assert time.perf_counter() - start < 60
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == "error: task_module.density=-0.1: must be > 0 and <= 1"
    assert "building " not in result.stderr + result.stdout
    assert not (root / "artifacts").exists() and not (run_dir / "results.json").exists()
    assert (run_dir / "error.json").exists()


def test_malformed_target_test_file_fails_before_the_first_language_module_trains(tmp_path, cache_dir):
    """A broken target test file (the last target's last row) is found by the plan's data check, before
    any stage is built, not when its evaluation starts after every language module has trained."""
    broken = tmp_path / "test.tsv"
    lines = (SAMPLES_DIR / "americasnli" / "test.tsv").read_text().splitlines()
    assert lines[-1].startswith("tar\t")
    lines[-1] = "\t".join([*lines[-1].split("\t")[:-1], "maybe"])
    broken.write_text("\n".join(lines) + "\n")
    root, run_dir = tmp_path / "root", tmp_path / "run"
    start = time.perf_counter()
    result = launch(["+experiment=ltsft_americasnli", "+profile=smoke", f"data.target.test.sample.path={broken}",
                     f"paths.root={root}", f"hydra.run.dir={run_dir}"], cache_dir, timeout=120)
    assert time.perf_counter() - start < 60
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {broken}:{len(lines)}: unknown label 'maybe'"), last  # file:line (item 15)
    assert "building lang/" not in result.stderr + result.stdout and "checking the data" in result.stderr
    assert not list((root / "artifacts").glob("*/*/DONE")) and not (run_dir / "results.json").exists()


def test_a_missing_hub_dataset_fails_before_any_stage_is_built(tmp_path, cache_dir, monkeypatch):
    """A hub location is resolved by the check (here a datasets builder over local files that do not exist),
    with one line naming the config key."""
    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    cfg = compose_config(["+experiment=ltsft_americasnli", "+profile=smoke", "data.target.test.sample.path=null",
                          "+data.target.test.sample.hub=json",
                          f"+data.target.test.sample.data_files={tmp_path / 'nowhere.jsonl'}"], tmp_path / "root")
    exp = Experiment(cfg, tmp_path / "run")
    built = []
    plan = plan_experiment(exp)
    for stage in plan.stages:
        stage.build = lambda ctx, label=stage.label: built.append(label) or {}
    with pytest.raises(DataError, match=r"^data\.target\.test \(aym\): could not load hub dataset 'json'"):
        Runner(exp.store, tmp_path / "run", announce=lambda _: None).run(plan.stages)
    assert built == []


def _stage(label: str, calls: list[str], inputs: dict[str, Stage] | None = None, fail: bool = False) -> Stage:
    def build(ctx) -> dict:
        calls.append(f"build {label}")
        (ctx.out_dir / "out.txt").write_text(label)
        return {}

    def validate() -> None:
        calls.append(f"check {label}")
        if fail:
            raise DataError(f"{label}: broken")

    return Stage("test", label, {"label": label}, build, inputs or {}, validate=validate)


def test_runner_checks_every_unfinished_stage_before_building_and_skips_finished_ones(tmp_path):
    store = ArtifactStore(tmp_path / "artifacts")
    calls: list[str] = []
    first = _stage("first", calls)
    last = _stage("last", calls, {"first": first}, fail=True)
    with pytest.raises(DataError, match="last: broken"):
        Runner(store, tmp_path / "run", announce=lambda _: None).run([last])
    assert calls == ["check first", "check last"]  # nothing built: the last stage's data is bad
    assert not store.is_done("test", first.key)

    calls.clear()
    last = _stage("last", calls, {"first": first})
    Runner(store, tmp_path / "run", announce=lambda _: None).run([last])
    assert calls == ["check first", "check last", "build first", "build last"]
    calls.clear()  # a cached re-run reads no data again
    Runner(store, tmp_path / "run2", announce=lambda _: None).run([_stage("last", calls, {"first": first})])
    assert calls == []


# ------------------------------------------------------------------------------------------ item 10
THESIS_RATES = {"lora": 1e-4, "qlora": 1e-4, "ia3": 3e-4, "spiel_ag": 1e-4, "qspiel_ag": 1e-4, "spiel_ma": 1e-3,
                "qspiel_ma": 1e-3, "full": 2e-5}


@pytest.mark.parametrize("method", sorted(THESIS_RATES))
def test_the_learning_rate_has_one_home_task_train_lr(method, tmp_path):
    """Each method config sets Table 7.1's rate as task.train.lr, and the command line overrides it."""
    cfg = compose_config(["+experiment=spiel_flan", f"task_module={method}"], tmp_path)
    assert cfg.task.train.lr == THESIS_RATES[method] and "lr" not in cfg.task_module
    cfg = compose_config(["+experiment=spiel_flan", f"task_module={method}", "task.train.lr=9e-9"], tmp_path)
    assert cfg.task.train.lr == 9e-9
    Experiment(cfg, tmp_path / "run")


@pytest.mark.parametrize("method", ["lora", "spiel_ag"])
def test_the_optimiser_gets_the_learning_rate_of_the_command_line(method, tmp_path, cache_dir, monkeypatch):
    """`task.train.lr` (the docs' zip-sweep key) reaches the optimiser of a LoRA / SpIEL task module, and the
    module's metrics record it."""
    from xlt.training import fit, optim

    seen: list[float] = []

    def record(*args, **kwargs):
        configured = optim.configure_optimizers(*args, **kwargs)
        seen.append(configured["optimizer"].param_groups[0]["initial_lr"])
        return configured

    monkeypatch.setattr(fit, "configure_optimizers", record)
    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    cfg = compose_config(["+experiment=spiel_flan", "+profile=smoke", f"task_module={method}", "task.train.lr=7e-4",
                          "trainer.max_steps_per_phase=2"], tmp_path / "root")
    exp = Experiment(cfg, tmp_path / "run")
    task = next(stage for stage in plan_experiment(exp).stages if stage.kind == "task_module")
    results = Runner(exp.store, tmp_path / "run", announce=lambda _: None).run([task])
    assert seen == [7e-4]
    assert results["task"].metrics["train/lr"] == 7e-4


def test_docs_zip_sweep_example_sweeps_task_train_lr():
    """The zip-sweep examples pair each method with task.train.lr, the key the optimiser reads."""
    repo = Path(__file__).resolve().parents[1]
    for doc in ("docs/adding-an-experiment.md", "docs/cluster.md", "README.md"):
        text = (repo / doc).read_text()
        assert "task_module.lr=" not in text, doc  # no example sets the module's (former) rate
        assert "hydra.sweeper.zip=[[task_module,task.train.lr]]" in text, doc
    for sweep in (repo / "sweeps").glob("*.yaml"):
        assert "task_module.lr:" not in sweep.read_text(), sweep.name


@pytest.mark.parametrize("experiment", experiments())
def test_every_smoke_plan_passes_its_data_check(experiment, tmp_path, cache_dir, monkeypatch):
    """Every stage's check reads the bundled samples (in the real formats) as its build would."""
    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    exp = Experiment(compose_config([f"+experiment={experiment}", "+profile=smoke"], tmp_path / "root"),
                     tmp_path / "run")
    stages = plan_experiment(exp).stages
    assert any(stage.validate is not None for stage in stages)
    Runner(exp.store, tmp_path / "run", announce=lambda _: None).check(stages)
