"""Machine translation of task data for translate-train and translate-test (thesis §6.3.1, §6.4.2).

``backends``: :class:`TransformersTranslator` and :class:`CTranslate2Translator` behind one interface
(forced BOS of the target code, :class:`GenerationSettings`); ``engine``: :func:`translate_records`,
which translates records field by field, de-duplicated, batched by length and resumable by chunks.
No Lightning and nothing of xlt.pipeline here.
"""

from xlt.translation.backends import (
    CTranslate2Translator,
    GenerationSettings,
    TransformersTranslator,
    Translator,
    convert_to_ctranslate2,
)
from xlt.translation.engine import TranslationStats, translate_records, write_jsonl

__all__ = ["CTranslate2Translator", "GenerationSettings", "TranslationStats", "TransformersTranslator",
           "Translator", "convert_to_ctranslate2", "translate_records", "write_jsonl"]
