"""Chapter 3's finding on the world (MAD-G, §3.5): adapters generated from typology beat task adaptation
alone on languages the encoder never saw (POS, task adapter trained on qma)."""

from __future__ import annotations

from xlt.report.findings import OTHER_ORDERS, UNSEEN_SVO, Finding, finding, run_means, target_list

UNSEEN = [*UNSEEN_SVO, *OTHER_ORDERS]
# MAD-G's generator trains on the six seen languages' corpora (MLM, §3.3.3) and generates an adapter for
# each unseen target from its typology vector (XLT_URIEL_DIR: the world's, set per seed by run_findings).
MADG = ["+experiment=madg_ud_pos", "+world=synthetic"]
WORLD_CORPUS = ["lang_module.languages=[qma,qmb,qfa,qfb,qia,qib]", "lang_module.corpus.hub=null",
                "lang_module.corpus.name=null", "lang_module.corpus.split=null", "lang_module.corpus.columns=null",
                "+lang_module.corpus.path='${paths.world}/data/corpora/{lang}.txt'"]

finding(Finding(
    "madg_beats_ta_only", 3, "MAD-G > TA-only on unseen languages",
    "NER 60.7 vs 52.3 (Table 3.3); POS unseen-genus 34.0 vs 33.4 (Table 3.2)",
    {"madg": [target_list(UNSEEN), *WORLD_CORPUS],
     "ta_only": [target_list(UNSEEN), *WORLD_CORPUS, "recipe.protocol=ta_only"]},
    run_means("madg", "ta_only", UNSEEN), ("MAD-G", "TA-only"),
    base=MADG))
