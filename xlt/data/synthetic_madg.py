"""Bundled corpora for the MAD-G smoke runs (thesis chapter 3).

The smoke generator trains on a handful of the thesis's 95 generator languages (Table A.1): English
and the AmericasNLI languages Aymara, Guarani, Nahuatl and Quechua (whose corpora the ``americasnli``
sample set writes) plus Basque, Finnish, Turkish and Maltese written here, so the AmericasNLI
targets Bribri, Ashaninka, Wixarika, Otomi, Shipibo-Konibo and Raramuri stay unseen by the generator.
Plain text, one sentence per line, as the real corpora (``corpora/<code>.txt``).
"""

from __future__ import annotations

from xlt.data.synthetic import SAMPLE_SETS, write_corpus

MADG_CORPUS_LANGUAGES = ["eu", "fi", "tr", "mt"]
CORPUS_LINES = 100  # as the task corpora (xlt.data.synthetic_tasks), which also write eu, tr and mt

SAMPLE_SETS["madg"] = lambda out: [write_corpus(out, code, lines=CORPUS_LINES) for code in MADG_CORPUS_LANGUAGES]
