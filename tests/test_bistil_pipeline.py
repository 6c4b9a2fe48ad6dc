"""BiStillation wired into the pipeline (thesis §5.3-5.5): the distillation procedure (gradients reach the
student only; the teacher wears each batch's language SFT), the plan of the ``bistil`` recipe per variant
(one student per pair shared by tasks and variants), the efficiency stage (FLOPs ratio), the thesis's
hyper-parameters in the experiments, and (slow) three variants of one experiment end to end on the smoke
profile."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
from omegaconf import OmegaConf

from tests.helpers import compose_config, launch, read_json
from xlt.data.collators import MLMCollator
from xlt.data.mixture import MixtureBatchSampler
from xlt.distillation.procedure import (
    BilingualDistillation,
    TaskDistillation,
    student_task_model,
    task_predictions,
    teacher_language_modules,
)
from xlt.errors import ConfigError
from xlt.methods.core.sft import SFTModule, SparseDelta, SparseFineTuning
from xlt.models.loading import ModelConfig, base_weights_hash, load_encoder, load_tokenizer
from xlt.models.student import init_student, load_for_distillation, prepare_for_distillation
from xlt.pipeline.experiment import Experiment
from xlt.pipeline.recipes import plan_experiment
from xlt.pipeline.runner import Runner
from xlt.pipeline.stages.distillation import EQUAL_LANGUAGES
from xlt.schedule import Schedule
from xlt.tasks import build_task
from xlt.tasks.mlm import MLMFamily
from xlt.tasks.parsing import usable_words
from xlt.training.callbacks import LanguageSwitch
from xlt.training.fit import Fitter, LoggerConfig, TrainerConfig
from xlt.training.multisource import MultiSourceTrain

SMOKE = ["+profile=smoke", "trainer.max_steps_per_phase=2"]
NLI = {"name": "nli", "family": "classification", "labels": ["entailment", "neutral", "contradiction"]}


def plan(tmp_path: Path, *overrides: str, experiment: str = "bistil_americasnli"):
    exp = Experiment(compose_config([f"+experiment={experiment}", *SMOKE, *overrides], tmp_path), tmp_path / "run")
    return exp, {stage.label: stage for stage in plan_experiment(exp).stages}


# ---------------------------------------------------------------------------- the procedure
def mlm_blocks(path: str, lang: str, count: int = 8) -> list[dict]:
    from xlt.data.locations import DataLocation, load_location
    from xlt.data.synthetic import SAMPLES_DIR

    family = MLMFamily({"max_seq_length": 24}, load_tokenizer(path))
    corpus = load_location(DataLocation(path=str(SAMPLES_DIR / "corpora" / f"{lang}.txt")), lang)
    return family.preprocess(corpus.select(range(40)), lang)[:count]


def bilingual_model(path: str) -> BilingualDistillation:
    teacher = prepare_for_distillation(load_encoder(path, ModelConfig(name_or_path=path)))
    student = init_student(load_for_distillation(path), 2)
    return BilingualDistillation(student, teacher)


def test_stage_one_gradients_reach_the_student_only(tiny_xlmr_path):
    model = bilingual_model(tiny_xlmr_path)
    model.train()
    assert not model.teacher.training and model.backbone.training  # the teacher never drops out
    batch = MLMCollator(load_tokenizer(tiny_xlmr_path))(mlm_blocks(tiny_xlmr_path, "en", 4))
    loss = model.loss(batch)
    assert loss > 0
    loss.backward()
    assert all(p.grad is None and not p.requires_grad for p in model.teacher.parameters())
    student = dict(model.body.named_parameters())
    assert student["encoder.layer.0.attention.self.query.weight"].grad.abs().sum() > 0
    assert student["embeddings.word_embeddings.weight"].grad.abs().sum() > 0
    assert {id(p) for p in model.parameters() if p.requires_grad} == {id(p) for p in model.backbone.parameters()}


def test_stage_two_gradients_reach_the_student_only_and_validation_scores_the_student(tiny_xlmr_path):
    family = build_task(NLI, load_tokenizer(tiny_xlmr_path))
    teacher = family.build_model(tiny_xlmr_path, ModelConfig(name_or_path=tiny_xlmr_path))
    prepare_for_distillation(teacher.body)
    torch.manual_seed(0)
    student = student_task_model(family, tiny_xlmr_path, ModelConfig(name_or_path=tiny_xlmr_path))
    model = TaskDistillation(student, teacher, temperature=2.0)
    model.train()
    assert not model.teacher.training
    # the student's body and head are the module's: methods and saved SFTs see the student alone
    assert model.body is student.body and set(model.head_parameters()) == {f"head.{n}" for n, _ in
                                                                            student.head.named_parameters()}
    rows = [{"premise": "a b c", "hypothesis": "a b", "label": "entailment"},
            {"premise": "x y", "hypothesis": "z w v u", "label": "neutral"}]
    import datasets

    batch = family.collator()(family.preprocess(datasets.Dataset.from_list(rows), "rows"))
    terms = model.terms(batch)
    assert terms.attention is not None and terms.hidden is not None and terms.prediction > 0
    model.loss(batch).backward()
    assert all(p.grad is None and not p.requires_grad for p in model.teacher.parameters())
    assert all(p.grad is not None for p in student.head.parameters())
    assert student.body.embeddings.word_embeddings.weight.grad.abs().sum() > 0
    metric = model.metric_factory()
    model.update_metric(metric, batch)
    assert metric.compute()["accuracy"] in (0.0, 0.5, 1.0)
    model.release()


def test_prediction_distributions_of_every_task_family(tiny_bert_path):
    """Token tasks score labelled positions; QA start/end over real tokens; DP heads over possible heads."""
    tokenizer = load_tokenizer(tiny_bert_path)
    cfg = ModelConfig(name_or_path=tiny_bert_path)
    import datasets

    ner = build_task({"name": "ner", "family": "token_classification", "labels": ["O", "B-PER", "I-PER"],
                      "tags_field": "ner_tags", "metric": "span_f1"}, tokenizer)
    rows = datasets.Dataset.from_list([{"tokens": ["Ana", "runs"], "ner_tags": ["B-PER", "O"]},
                                       {"tokens": ["x"], "ner_tags": ["O"]}])
    batch = ner.collator()(ner.preprocess(rows, "rows"))
    [prediction] = task_predictions(ner.build_model(tiny_bert_path, cfg), batch)
    assert torch.equal(prediction.mask, batch["labels"] != -100) and prediction.mask.sum() == 3
    dp = build_task({"name": "dp", "family": "dependency_parsing", "relations": ["root", "nsubj"]}, tokenizer)
    rows = datasets.Dataset.from_list([{"tokens": ["Ana", "runs"], "head": [2, 0], "deprel": ["nsubj", "root"]}])
    batch = dp.collator()(dp.preprocess(rows, "rows"))
    arcs, relations = task_predictions(dp.build_model(tiny_bert_path, cfg), batch)
    assert arcs.logits.shape == (1, 2, 3) and arcs.logit_mask.shape == (1, 2, 3)
    assert relations.logits.shape == (1, 2, 2) and relations.mask.tolist() == [[True, True]]
    assert torch.equal(relations.mask, usable_words(batch, arcs.logit_mask))  # the parser's own loss mask


def test_the_teachers_language_sft_switches_per_batch(tmp_path, tiny_xlmr_path):
    """Stage 1 (§5.3.2): each batch is one language, drawn with equal probability, and the teacher (never the
    student) wears that language's SFT for that batch only."""
    model = bilingual_model(tiny_xlmr_path)
    teacher_hash = base_weights_hash(model.teacher)
    embeddings = model.teacher.embeddings.word_embeddings.weight
    base = embeddings.detach().clone()
    shifts = {"en": 1.0, "gn": -2.0}
    modules = {}
    for lang, shift in shifts.items():
        indices = torch.tensor([0, 5, 9], dtype=torch.int32)
        delta = SparseDelta(tuple(embeddings.shape), torch.full((3,), shift), indices)
        module = SFTModule(SparseFineTuning({"embeddings.word_embeddings.weight": delta}, {},
                                            {"base_hash": teacher_hash, "kind": "language"}))
        module.check_base(teacher_hash, lang)
        modules[lang] = module
    seen: list[tuple[str, float]] = []

    class Record(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            switch = next(c for c in trainer.callbacks if isinstance(c, LanguageSwitch))
            seen.append((switch.active, float(embeddings.detach().flatten()[5] - base.flatten()[5])))

    train = MultiSourceTrain({"en": mlm_blocks(tiny_xlmr_path, "en", 6), "gn": mlm_blocks(tiny_xlmr_path, "gn", 2)},
                             {}, teacher_language_modules(modules), EQUAL_LANGUAGES)
    fitter = Fitter(TrainerConfig(accelerator="cpu", progress_bar=False), LoggerConfig(csv=False), tmp_path, "stage1",
                    seed=3)
    student_embeddings = model.body.embeddings.word_embeddings.weight
    fitter.fit(model, train, {}, MLMCollator(load_tokenizer(tiny_xlmr_path)),
               Schedule(lr=1e-4, batch_size=2, max_steps=12, select_best=False), "distillation", [Record()])
    assert len(seen) == 12 and {lang for lang, _ in seen} == {"en", "gn"}
    assert all(shift == pytest.approx(shifts[lang]) for lang, shift in seen)
    assert torch.equal(embeddings.detach(), base)  # removed after each batch, exact bytes
    assert student_embeddings.shape[0] == embeddings.shape[0]
    # equal probability whatever the corpus sizes (§5.3.2)
    assert MixtureBatchSampler([600, 20], 8, sampling=EQUAL_LANGUAGES).probabilities() == [0.5, 0.5]


# ---------------------------------------------------------------------------- the plan
def test_plan_of_each_variant(tmp_path, cache_dir, monkeypatch):
    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    exp, tf = plan(tmp_path, "data.targets=[gn,aym]")
    assert {"lang/en", "lang/gn", "lang/aym", "teacher_task", "efficiency"} <= set(tf)
    for target in ("gn", "aym"):
        assert [tf[f"{part}/{target}"].kind for part in ("vocabulary", "student_init", "student", "task", "eval")] == [
            "vocabulary", "student_init", "student", "task_distillation", "evaluation"]
        assert set(tf[f"student/{target}"].inputs) == {"init", "lang/en", f"lang/{target}"}
        assert tf[f"task/{target}"].inputs["teacher_task"] is tf["teacher_task"]
        assert tf[f"task/{target}"].inputs["teacher_lang"] is tf["lang/en"]
        assert tf[f"task/{target}"].inputs["model"] is tf[f"student/{target}"]
        evaluation = tf[f"eval/{target}"]
        assert evaluation.inputs["model"] is tf[f"student/{target}"] and "lang" not in evaluation.inputs
    assert tf["teacher_task"].kind == "task_module" and set(tf["teacher_task"].inputs) == {"lang/en"}
    assert tf["teacher_task"].spec["module"]["density"] == 0.08
    assert tf["efficiency"].inputs["model"] is tf["student/gn"] and tf["efficiency"].inputs["task"] is tf["task/gn"]

    _, st = plan(tmp_path, "data.targets=[gn,aym]", "recipe.variant=st")
    assert "teacher_task" not in st and st["task/gn"].kind == "task_module"
    assert set(st["task/gn"].inputs) == {"model"}  # the bilingual student trains without language modules
    # one student per (pair, LRF, initialisation): BiStil-TF and BiStil-ST share it
    assert all(st[f"{part}/gn"].key == tf[f"{part}/gn"].key for part in ("vocabulary", "student_init", "student"))

    _, scratch = plan(tmp_path, "data.targets=[gn]", "recipe.variant=scratch")
    assert scratch["student_init/gn"].spec["initialisation"] == "scratch"
    assert scratch["vocabulary/gn"].key == tf["vocabulary/gn"].key
    assert scratch["student/gn"].key != tf["student/gn"].key and scratch["task/gn"].kind == "task_module"
    # trained from scratch, not distilled (§5.4.1): its own MLM loss, no teacher, so no teacher language SFTs
    assert set(scratch["student/gn"].inputs) == {"init"} and scratch["student/gn"].spec["objective"] == "mlm"
    assert scratch["student/gn"].spec["lang_module"] is None and "objective" not in tf["student/gn"].spec

    _, ltsft = plan(tmp_path, "data.targets=[gn]", "recipe.variant=ltsft")
    assert {stage.kind for stage in ltsft.values()} == {"language_module", "task_module", "evaluation", "efficiency"}
    assert "model" not in ltsft["efficiency"].inputs and ltsft["eval/gn"].inputs["lang"] is ltsft["lang/gn"]
    assert ltsft["task"].key == tf["teacher_task"].key  # LtSft's task SFT is BiStil-TF's teacher's (shared)


def test_one_student_per_pair_whatever_the_task(tmp_path, cache_dir, monkeypatch):
    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    _, base = plan(tmp_path, "data.targets=[gn]")
    _, other_task = plan(tmp_path, "data.targets=[gn]", "task.train.lr=1e-3", "task_module.density=0.05")
    assert other_task["student/gn"].key == base["student/gn"].key
    assert other_task["task/gn"].key != base["task/gn"].key
    for override, changed in (("recipe.lrf=1", "student_init"), ("recipe.vocabulary_threshold=1e-4", "vocabulary"),
                              ("lang_module.l1_lambda=0.2", "student"),
                              ("recipe.distillation.train.lr=5e-5", "student")):
        _, varied = plan(tmp_path, "data.targets=[gn]", override)
        assert varied[f"{changed}/gn"].key != base[f"{changed}/gn"].key, override
        assert varied["student/gn"].key != base["student/gn"].key, override
    # another task of the pair (UD POS beside UD DP): the same vocabulary, initial and distilled student
    _, dp = plan(tmp_path, "data.targets=[mt]", experiment="bistil_ud_dp")
    _, pos = plan(tmp_path, "data.targets=[mt]", "task=pos", experiment="bistil_ud_dp")
    assert all(pos[f"{part}/mt"].key == dp[f"{part}/mt"].key for part in ("vocabulary", "student_init", "student"))
    assert pos["task/mt"].key != dp["task/mt"].key
    # a released language module named for another target changes no key of this pair's stages
    released = tmp_path / "released-aym"
    released.mkdir()
    (released / "pytorch_diff.bin").write_bytes(b"not read when planning")
    _, with_aym = plan(tmp_path, "data.targets=[gn]", f"+lang_module.pretrained.aym={released}")
    assert all(with_aym[label].key == base[label].key for label in ("lang/en", "lang/gn", "student/gn", "task/gn"))


def test_baselines_are_variants_of_the_same_experiment(tmp_path, cache_dir, monkeypatch):
    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    exp, stages = plan(tmp_path, "data.targets=[mt]", "recipe.variant=distilmbert", experiment="bistil_ud_dp")
    lang = stages["lang/en"]
    assert lang.spec["model"]["architecture"] == "distilbert" and lang.spec["module"]["density"] == 0.04
    assert lang.spec["model"]["tiny"]["num_hidden_layers"] == 3  # smoke: half the 6-layer teacher's, as 6 of 12
    assert lang.spec["module"]["train"]["min_steps"] == 30000 and lang.spec["module"]["train"]["max_steps"] == 100000
    assert stages["efficiency"].spec["reference"] == exp.base_model.spec  # relative to LtSft on mBERT
    assert stages["efficiency"].spec["measured"]["model"]["architecture"] == "distilbert"
    _, qa = plan(tmp_path, "data.targets=[de]", "recipe.variant=minilm", experiment="bistil_xquad")
    assert not any(label.startswith("lang/") for label in qa)  # no language adaptation for QA
    with pytest.raises(ConfigError, match="recipe.variant='minilm'"):
        plan(tmp_path, "recipe.variant=minilm")


def test_configuration_errors_name_the_key(tmp_path, cache_dir, monkeypatch):
    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    with pytest.raises(ConfigError, match=r"recipe.lrf=4: must divide the teacher's 6 layers .*recipe.smoke_layers.* "
                                          r"multiple of 4"):
        plan(tmp_path, "recipe.lrf=4")
    with pytest.raises(ConfigError, match="recipe.variant='bogus'"):
        plan(tmp_path, "recipe.variant=bogus")
    with pytest.raises(ConfigError, match="recipe.efficiency.cpu_examples"):
        plan(tmp_path, "recipe.efficiency.cpu_examples=0")
    with pytest.raises(ConfigError, match="data.sources: BiStil distils for one source"):
        plan(tmp_path, "data=americasnli_multisource")


def test_the_smoke_teacher_takes_lrf_2_and_3_out_of_the_box(tmp_path, cache_dir, monkeypatch):
    """Under +profile=smoke a BiStil experiment's tiny teacher has recipe.smoke_layers (6) layers, which LRF 2 and
    3 divide, with no model override; other experiments' tiny models keep the profile's 2 layers."""
    from transformers import AutoConfig

    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    for lrf in (2, 3):
        exp, stages = plan(tmp_path, "data.targets=[gn]", f"recipe.lrf={lrf}")
        assert AutoConfig.from_pretrained(exp.model_path).num_hidden_layers == 6
        assert stages["student_init/gn"].spec["lrf"] == lrf
    config = compose_config(["+experiment=ltsft_masakhaner", *SMOKE], tmp_path)
    assert OmegaConf.to_container(config.model, resolve=True)["tiny"]["num_hidden_layers"] == 2


def test_thesis_hyper_parameters_of_the_experiments(tmp_path):
    def cfg(name):
        return OmegaConf.to_container(compose_config([f"+experiment={name}"], tmp_path), resolve=True)

    for name, model, targets in (("bistil_ud_dp", "google-bert/bert-base-multilingual-cased", 16),
                                 ("bistil_masakhaner", "google-bert/bert-base-multilingual-cased", 9),
                                 ("bistil_americasnli", "FacebookAI/xlm-roberta-base", 10),
                                 ("bistil_xquad", "microsoft/mdeberta-v3-base", 11)):
        config = cfg(name)
        recipe, stage1 = config["recipe"], config["recipe"]["distillation"]
        assert config["model"]["name_or_path"] == model and len(config["data"]["targets"]) == targets, name
        assert (recipe["name"], recipe["variant"], recipe["lrf"], recipe["vocabulary_threshold"]) == (
            "bistil", "tf", 2, 1e-6)
        assert (stage1["train"]["max_steps"], stage1["train"]["batch_size"], stage1["train"]["lr"],
                stage1["train"]["warmup_ratio"], stage1["train"]["eval_every"]) == (200000, 8, 1e-4, 0.0, 1000)
        assert (stage1["mlm"]["max_seq_length"], stage1["mlm"]["heldout_fraction"],
                stage1["mlm"]["high_resource_heldout_fraction"], stage1["mlm"]["high_resource_eval_every"]) == (
            256, 0.05, 0.01, 5000)
        assert config["task_module"]["density"] == 0.08 and config["task_module"]["num_trainable"] is None
    dp, ner = cfg("bistil_ud_dp"), cfg("bistil_masakhaner")
    for config in (dp, ner):
        train = config["task"]["train"]
        assert (train["lr"], train["max_epochs"], train["eval_every"]) == (5e-5, 10, None)
        assert config["task_module"]["phase1"] == {"max_epochs": 3}
        distil = config["recipe"]["baselines"]["distilmbert"]
        assert distil["model"]["name_or_path"] == "distilbert/distilbert-base-multilingual-cased"
        assert distil["lang_module"]["density"] == 0.04 and distil["lang_module"]["train"]["min_steps"] == 30000
    assert dp["data"]["targets"] == ["ar", "bm", "bxr", "yue", "zh", "myv", "fo", "ja", "olo", "mt", "gv", "sme",
                                     "kpv", "sa", "hsb", "ug"]
    nli = cfg("bistil_americasnli")["task"]["train"]
    assert (nli["lr"], nli["batch_size"], nli["max_epochs"], nli["eval_every"]) == (2e-5, 32, 5, 625)
    qa = cfg("bistil_xquad")
    assert (qa["task"]["train"]["lr"], qa["task"]["train"]["batch_size"], qa["task"]["train"]["max_epochs"],
            qa["task"]["train"]["eval_every"]) == (3e-5, 12, 5, 2000)
    assert qa["lang_module"]["method"] == "none" and qa["data"]["targets"] == [
        "ar", "de", "el", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh"]
    assert qa["recipe"]["baselines"]["minilm"]["model"]["name_or_path"].startswith("nreimers/mMiniLMv2")


def test_scratch_student_is_trained_by_mlm_without_a_teacher(tmp_path, cache_dir, monkeypatch):
    """Scratch (§5.4.1: "from scratch instead of distilling them from a pre-trained MMT"; the reference code's
    bilingual_mlm.py): stage 1 trains the random student on its own MLM loss; no teacher language SFT is built."""
    from safetensors.torch import load_file

    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    exp, stages = plan(tmp_path, "data.targets=[gn]", "recipe.variant=scratch", "recipe.distillation.train.max_steps=2",
                       "recipe.distillation.train.select_best=false")
    results = Runner(exp.store, tmp_path / "run", announce=lambda _: None).run([stages["student/gn"]])
    assert set(results) == {"vocabulary/gn", "student_init/gn", "student/gn"}  # no lang/<l>
    metrics = results["student/gn"].metrics
    assert metrics["objective"] == "mlm" and metrics["teacher_modules"] == [] and metrics["steps"] == 2
    assert metrics["val/loss"] > 1.0  # an MLM loss (cross-entropy), not a distillation MSE
    init = load_file(results["student_init/gn"].path / "model.safetensors")
    trained = load_file(results["student/gn"].path / "model.safetensors")
    assert init.keys() == trained.keys() and any(not torch.equal(init[k], trained[k]) for k in init)


# ---------------------------------------------------------------------------- efficiency
def test_efficiency_stage_reports_the_flops_ratio_of_the_student(tmp_path, cache_dir, monkeypatch):
    """A 6-layer teacher and its LRF-3 student (2 layers): FLOPs per example about a third (Table 5.7's 0.33x),
    every ratio the quotient of the two measurements, both in results.json."""
    monkeypatch.setenv("XLT_CACHE", str(cache_dir))
    exp, stages = plan(tmp_path, "data.targets=[gn]", "recipe.variant=st", "recipe.lrf=3",
                       "model.tiny.num_hidden_layers=6", "lang_module=none", "recipe.distillation.train.max_steps=2",
                       "recipe.efficiency.cpu_examples=4")
    results = Runner(exp.store, tmp_path / "run", announce=lambda _: None).run([stages["efficiency"]])
    metrics = results["efficiency"].metrics
    measured, reference, relative = metrics["measured"], metrics["reference"], metrics["relative"]
    assert (measured["layers"], reference["layers"]) == (2, 6) and metrics["target"] == "gn"
    assert relative["flops_ratio"] == pytest.approx(measured["flops_per_example"] / reference["flops_per_example"])
    assert 0.25 < relative["flops_ratio"] < 0.42
    assert relative["parameters_ratio"] == pytest.approx(measured["parameters"] / reference["parameters"])
    assert relative["cpu_speedup"] == pytest.approx(measured["cpu_examples_per_second"]
                                                    / reference["cpu_examples_per_second"])
    assert measured["vocab"] < reference["vocab"] and relative["gpu_speedup"] is None or torch.cuda.is_available()


# ---------------------------------------------------------------------------- slow: complete runs
EXPERIMENTS = {"bistil_americasnli": ("nli", "accuracy", 10), "bistil_ud_dp": ("dp", "las", 16),
               "bistil_masakhaner": ("ner", "f1", 9), "bistil_xquad": ("qa", "f1", 11)}


def check_results(results: dict, experiment: str, variant: str) -> None:
    task, metric, count = EXPERIMENTS[experiment]
    assert results["experiment"] == experiment and results["task"] == task and results["variant"] == variant
    languages = results["languages"]
    assert len(languages) == count and all(0.0 <= values[metric] <= 1.0 for values in languages.values())
    assert results["average"][metric] == pytest.approx(sum(v[metric] for v in languages.values()) / count)
    efficiency = results["efficiency"]
    assert efficiency["target"] == next(iter(languages))
    assert set(efficiency["relative"]) >= {"cpu_speedup", "gpu_speedup", "flops_ratio", "parameters_ratio"}
    assert efficiency["relative"]["flops_ratio"] > 0 and efficiency["measured"]["parameters"] > 0


@pytest.mark.slow
def test_smoke_run_of_bistil_masakhaner_end_to_end(tmp_path, cache_dir):
    """``+profile=smoke`` offline, three variants of one experiment sharing one artifact store: BiStil-TF builds
    the language SFTs, LtSft's task SFT (its teacher) and one student per target; BiStil-ST reuses the students;
    LtSft reuses the language SFTs and its task SFT. Every results.json holds every target, the average and the
    efficiency figures relative to LtSft."""
    experiment = "bistil_masakhaner"
    results = {}
    for variant in ("tf", "st", "ltsft"):
        run_dir = tmp_path / "runs" / variant
        result = launch([f"+experiment={experiment}", "+profile=smoke", f"recipe.variant={variant}",
                         f"paths.root={tmp_path / 'root'}", f"hydra.run.dir={run_dir}"], cache_dir, timeout=5400)
        assert result.returncode == 0, result.stderr[-3000:]
        results[variant] = read_json(run_dir / "results.json")
        check_results(results[variant], experiment, variant)
    for variant in ("tf", "st"):
        distilled = results[variant]
        assert distilled["lrf"] == 2 and all(s["layers"] == 3 for s in distilled["students"].values())
        assert distilled["efficiency"]["measured"]["layers"] == 3  # of the smoke profile's 6-layer teacher
        assert distilled["efficiency"]["reference"]["layers"] == 6
        assert distilled["dimensions"]["student"]["vocab"] < distilled["dimensions"]["teacher"]["vocab"]
    stages = results["st"]["stages"]
    assert all(stages[label]["status"] == "cached" for label in stages
               if label.startswith(("vocabulary/", "student_init/", "student/", "lang/")))
    stages = results["ltsft"]["stages"]
    assert stages["task"]["status"] == "cached" and stages["lang/hau"]["status"] == "cached"
    assert results["ltsft"]["efficiency"]["relative"]["flops_ratio"] == 1.0
