"""Bundled samples for the MAD-G / MAD-X smoke runs (thesis chapter 3).

The smoke generator trains on a handful of the thesis's 95 generator languages (Table A.1): English
and the AmericasNLI languages Aymara, Guarani, Nahuatl and Quechua (whose corpora the ``americasnli``
sample set writes) plus Basque, Finnish, Turkish and Maltese written here, so the AmericasNLI
targets Bribri, Ashaninka, Wixarika, Otomi, Shipibo-Konibo and Raramuri stay unseen by the generator
(as do the UD smoke targets other than Maltese, and every MasakhaNER language).

For the POS/DP experiments (§3.4.3) this module also writes the training and development treebanks
of the multi-source languages that the chapter-4 samples (``xlt.data.synthetic_tasks``) lack, and the
corpora of the MAD-X language-adapter pool languages (the 20 sources and the MAD-G-seen languages,
§3.4.2) that no other sample set writes. Plain text corpora, one sentence per line, and CoNLL-U
treebanks, as the real data.
"""

from __future__ import annotations

from pathlib import Path

from xlt.data.synthetic import SAMPLE_SETS, write_corpus
from xlt.data.synthetic_tasks import write_treebank

MADG_CORPUS_LANGUAGES = ["eu", "fi", "tr", "mt"]
CORPUS_LINES = 100  # as the task corpora (xlt.data.synthetic_tasks), which also write eu, tr and mt
# MAD-X pool languages of the chapter-3 UD experiments with no corpus from another sample set
MADX_POOL_CORPORA = ["ga", "hu", "hy", "id", "la", "lv"]
# training treebanks of the 20 multi-source UD languages (conf/data/ud_madg_multisource.yaml) not written
# by the chapter-4 UD samples
MADG_UD_SOURCES = {
    "ar": ("ar_padt", "UD_Arabic-PADT"), "es": ("es_ancora", "UD_Spanish-AnCora"), "ga": ("ga_idt", "UD_Irish-IDT"),
    "hu": ("hu_szeged", "UD_Hungarian-Szeged"), "hy": ("hy_armtdp", "UD_Armenian-ArmTDP"),
    "id": ("id_gsd", "UD_Indonesian-GSD"), "ja": ("ja_gsd", "UD_Japanese-GSD"), "la": ("la_ittb", "UD_Latin-ITTB"),
    "lv": ("lv_lvtb", "UD_Latvian-LVTB"), "zh": ("zh_gsd", "UD_Chinese-GSD"),
}


def write_madg_corpora(out: Path) -> None:
    for code in [*MADG_CORPUS_LANGUAGES, *MADX_POOL_CORPORA]:
        write_corpus(out, code, lines=CORPUS_LINES)


def write_madg_ud(out: Path) -> None:
    for code, (treebank, directory) in MADG_UD_SOURCES.items():
        write_treebank(out, code, treebank, directory, {"train": 24, "dev": 6})


SAMPLE_SETS["madg"] = write_madg_corpora
SAMPLE_SETS["madg_ud"] = write_madg_ud
