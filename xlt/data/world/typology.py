"""URIEL-style typology vectors of the world's languages, derived from their parameters (thesis
§3.3.1: MAD-G conditions on a language's 289 binary URIEL features; §3.4.2: the closest-language
fallback compares them by cosine).

The vector has URIEL's layout exactly (lang2vec's ``syntax_knn + phonology_knn + inventory_knn``:
103 + 28 + 158 features, in lang2vec's order, :data:`FEATURES`), so a MAD-G generator or a URIEL
lookup reads a world language like a real one. Every feature the grammar decides is set from one
parameter (:data:`FEATURE_OWNERS`): the syntactic ones from :class:`~xlt.data.world.params.Syntax`
(constituent order also fixes the oblique-position features, adposition, adjective, possessor,
determiner, numeral and negation order, plural and case affixation), the phonology and inventory
ones from the :class:`~xlt.data.world.phonology.SoundSystem` read off the language's words
(segments, voicing contrasts, places of articulation, vowel count, codas, complex onsets, long and
front rounded vowels). A few features are the same for every world language (``constant``: every
language has definite and indefinite articles and a negative particle), and the rest describe what
the world has none of (gender, tone, ejectives, ...) and are 0, as URIEL's are for a language
without them. So two world languages' vectors differ exactly where their parameters do.

:func:`write_uriel_directory` writes the vectors as lang2vec's ``feature_predictions.npz``, so that
``XLT_URIEL_DIR=<world>/typology`` (or ``xlt.typology.load_uriel(<world>/typology)``) resolves the
world's codes with no change to :mod:`xlt.typology`.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from xlt.data.world.params import Syntax
from xlt.data.world.phonology import PHONEMES, SoundSystem

SYNTAX_FEATURES = tuple(f"S_{n}" for n in """
SVO SOV VSO VOS OVS OSV SUBJECT_BEFORE_VERB SUBJECT_AFTER_VERB OBJECT_AFTER_VERB OBJECT_BEFORE_VERB
SUBJECT_BEFORE_OBJECT SUBJECT_AFTER_OBJECT GENDER_MARK SEX_MARK DEFINITE_AFFIX DEFINITE_WORD INDEFINITE_AFFIX
INDEFINITE_WORD POSSESSIVE_PREFIX POSSESSIVE_SUFFIX ADPOSITION_BEFORE_NOUN ADPOSITION_AFTER_NOUN
POSSESSOR_BEFORE_NOUN POSSESSOR_AFTER_NOUN ADJECTIVE_BEFORE_NOUN ADJECTIVE_AFTER_NOUN
DEMONSTRATIVE_WORD_BEFORE_NOUN DEMONSTRATIVE_WORD_AFTER_NOUN DEMONSTRATIVE_PREFIX DEMONSTRATIVE_SUFFIX
NUMERAL_BEFORE_NOUN NUMERAL_AFTER_NOUN RELATIVE_BEFORE_NOUN RELATIVE_AFTER_NOUN RELATIVE_AROUND_NOUN
NOMINATIVE_VS_ACCUSATIVE_MARK ERGATIVE_VS_ABSOLUTIVE_MARK NEGATIVE_WORD_BEFORE_VERB NEGATIVE_PREFIX
NEGATIVE_WORD_AFTER_VERB NEGATIVE_SUFFIX NEGATIVE_WORD_BEFORE_SUBJECT NEGATIVE_WORD_AFTER_SUBJECT
NEGATIVE_WORD_BEFORE_OBJECT NEGATIVE_WORD_AFTER_OBJECT NEGATIVE_WORD_INITIAL NEGATIVE_WORD_FINAL
NEGATIVE_WORD_ADJACENT_BEFORE_VERB NEGATIVE_WORD_ADJACENT_AFTER_VERB PLURAL_PREFIX PLURAL_SUFFIX PLURAL_WORD
OBJECT_HEADMARK OBJECT_DEPMARK POSSESSIVE_HEADMARK POSSESSIVE_DEPMARK TEND_HEADMARK TEND_DEPMARK TEND_PREFIX
TEND_SUFFIX ANY_REDUP CASE_PREFIX CASE_SUFFIX CASE_PROCLITIC CASE_ENCLITIC CASE_MARK
COMITATIVE_VS_INSTRUMENTAL_MARK NUMCLASS_MARK ADJECTIVE_WITHOUT_NOUN PERFECTIVE_VS_IMPERFECTIVE_MARK
PAST_VS_PRESENT_MARK FUTURE_AFFIX TAM_PREFIX TAM_SUFFIX DEGREE_WORD_BEFORE_ADJECTIVE
DEGREE_WORD_AFTER_ADJECTIVE POLARQ_MARK_INITIAL POLARQ_MARK_FINAL POLARQ_MARK_SECOND POLARQ_WORD POLARQ_AFFIX
SUBORDINATOR_WORD_BEFORE_CLAUSE SUBORDINATOR_WORD_AFTER_CLAUSE SUBORDINATOR_SUFFIX PROSUBJECT_WORD
PROSUBJECT_AFFIX PROSUBJECT_CLITIC NEGATIVE_AFFIX NEGATIVE_WORD ANY_AGREEMENT_ON_ADJECTIVES
COMPLEMENTIZER_WORD_BEFORE_CLAUSE COMPLEMENTIZER_WORD_AFTER_CLAUSE VOX XVO XOV OXV OVX OBLIQUE_AFTER_VERB
OBLIQUE_AFTER_OBJECT OBLIQUE_BEFORE_VERB OBLIQUE_BEFORE_OBJECT ARTICLE_WORD_BEFORE_NOUN
ARTICLE_WORD_AFTER_NOUN
""".split())
PHONOLOGY_FEATURES = tuple(f"P_{n}" for n in """
VOICE VOICED_PLOSIVES VOICED_FRICATIVES EJECTIVES IMPLOSIVES GLOTTALIZED_RESONANTS UVULARS UVULAR_STOPS
UVULAR_CONTINUANTS LATERALS LATERAL_L LATERAL_OBSTRUENTS NASAL_VOWELS FRONT_ROUND_VOWELS BILABIALS FRICATIVES
NASALS LABIAL_VELARS CLICKS TH PHARYNGEALS COMPLEX_ONSETS TONE VELAR_NASAL VELAR_NASAL_INITIAL CODAS
COMPLEX_CODAS LONG_VOWELS
""".split())
INVENTORY_FEATURES = tuple(f"INV_{n}" for n in """
OPEN_FRONT_UNROUNDED_VOWEL VOICED_BILABIAL_PLOSIVE VOICED_BILABIAL_PLOSIVE_WITH_VOICED_LABIODENTAL_FRICATIVE
VOICED_BILABIAL_PLOSIVE_WITH_VOICED_BILABIAL_FRICATIVE VOICELESS_PALATAL_PLOSIVE
VOICELESS_PALATAL_PLOSIVE_WITH_VOICELESS_PALATAL_FRICATIVE VOICED_ALVEOLAR_PLOSIVE
VOICED_ALVEOLAR_PLOSIVE_WITH_VOICED_DENTAL_FRICATIVE
VOICED_ALVEOLAR_PLOSIVE_WITH_VOICED_ALVEOLAR_LATERAL_FRICATIVE
VOICED_ALVEOLAR_PLOSIVE_WITH_VOICED_ALVEOPALATAL_FRICATIVE
VOICED_ALVEOLAR_PLOSIVE_WITH_VOICED_POSTALVEOLAR_FRICATIVE CLOSE_MID_FRONT_UNROUNDED_VOWEL
VOICELESS_LABIODENTAL_FRICATIVE VOICELESS_GLOTTAL_FRICATIVE CLOSE_FRONT_UNROUNDED_VOWEL PALATAL_APPROXIMANT
VOICELESS_VELAR_PLOSIVE VOICELESS_VELAR_PLOSIVE_WITH_VOICELESS_BILABIAL_PLOSIVE
VOICELESS_VELAR_PLOSIVE_WITH_VOICELESS_VELAR_FRICATIVE ALVEOLAR_LATERAL_APPROXIMANT BILABIAL_NASAL
ALVEOLAR_NASAL CLOSE_MID_BACK_UNROUNDED_VOWEL VOICELESS_BILABIAL_PLOSIVE
VOICELESS_BILABIAL_PLOSIVE_WITH_VOICELESS_LABIODENTAL_FRICATIVE
VOICELESS_BILABIAL_PLOSIVE_WITH_VOICELESS_ALVEOLAR_PLOSIVE
VOICELESS_BILABIAL_PLOSIVE_WITH_VOICELESS_BILABIAL_FRICATIVE VOICELESS_UVULAR_PLOSIVE
VOICELESS_UVULAR_PLOSIVE_WITH_VOICED_UVULAR_FRICATIVE ALVEOLAR_TRILL VOICELESS_ALVEOLAR_FRICATIVE
VOICELESS_ALVEOLAR_PLOSIVE VOICELESS_ALVEOLAR_PLOSIVE_WITH_VOICELESS_ALVEOLAR_FRICATIVE
VOICELESS_ALVEOLAR_PLOSIVE_WITH_VOICELESS_ALVEOPALATAL_FRICATIVE
VOICELESS_ALVEOLAR_PLOSIVE_WITH_VOICELESS_ALVEOLAR_LATERAL_FRICATIVE
VOICELESS_ALVEOLAR_PLOSIVE_WITH_VOICELESS_DENTAL_FRICATIVE CLOSE_BACK_ROUNDED_VOWEL
VOICED_LABIODENTAL_FRICATIVE VOICED_LABIAL_VELAR_APPROXIMANT VOICELESS_VELAR_FRICATIVE
CLOSE_FRONT_ROUNDED_VOWEL OPEN_OPEN_MID_FRONT_UNROUNDED_VOWEL VOICELESS_PALATAL_FRICATIVE
VOICED_DENTAL_FRICATIVE CLOSE_MID_FRONT_ROUNDED_VOWEL VOICELESS_PHARYNGEAL_FRICATIVE VELAR_NASAL
OPEN_MID_FRONT_ROUNDED_VOWEL OPEN_OPEN_MID_CENTRAL_UNROUNDED_VOWEL OPEN_BACK_UNROUNDED_VOWEL
OPEN_BACK_ROUNDED_VOWEL VOICED_BILABIAL_IMPLOSIVE OPEN_MID_BACK_ROUNDED_VOWEL VOICELESS_ALVEOPALATAL_FRICATIVE
VOICED_RETROFLEX_PLOSIVE VOICED_RETROFLEX_PLOSIVE_WITH_VOICED_RETROFLEX_FRICATIVE VOICED_ALVEOLAR_IMPLOSIVE
CLOSE_MID_CENTRAL_UNROUNDED_VOWEL MID_CENTRAL_UNROUNDED_VOWEL OPEN_MID_FRONT_UNROUNDED_VOWEL
OPEN_MID_CENTRAL_UNROUNDED_RHOTIC_VOWEL OPEN_MID_CENTRAL_ROUNDED_VOWEL VOICED_PALATAL_PLOSIVE
VOICED_PALATAL_PLOSIVE_WITH_VOICED_PALATAL_FRICATIVE VOICED_VELAR_IMPLOSIVE
VOICED_VELAR_PLOSIVE_WITH_VOICED_BILABIAL_PLOSIVE VOICED_VELAR_PLOSIVE_WITH_VOICED_VELAR_FRICATIVE
VOICED_UVULAR_PLOSIVE VOICED_VELAR_FRICATIVE VOICED_LABIAL_PALATAL_APPROXIMANT VOICED_GLOTTAL_FRICATIVE
VOICELESS_POSTALVEOLAR_VELAR_FRICATIVE CLOSE_CENTRAL_UNROUNDED_VOWEL
CLOSE_CLOSE_MID_HIGH_FRONT_UNROUNDED_VOWEL VOICED_VELARIZED_LATERAL_APPROXIMANT
VOICELESS_ALVEOLAR_LATERAL_FRICATIVE VOICED_RETROFLEX_LATERAL_APPROXIMANT VOICED_ALVEOLAR_LATERAL_FRICATIVE
CLOSE_BACK_UNROUNDED_VOWEL VELAR_APPROXIMANT LABIODENTAL_NASAL PALATAL_NASAL RETROFLEX_NASAL UVULAR_NASAL
CLOSE_MID_CENTRAL_ROUNDED_VOWEL OPEN_FRONT_ROUNDED_VOWEL VOICELESS_BILABIAL_FRICATIVE ALVEOLAR_APPROXIMANT
VOICED_ALVEOLAR_LATERAL_FLAP RETROFLEX_APPROXIMANT RETROFLEX_FLAP ALVEOLAR_TAP UVULAR_TRILL UVULAR_APPROXIMANT
VOICELESS_RETROFLEX_FRICATIVE VOICELESS_POSTALVEOLAR_FRICATIVE VOICED_PALATAL_IMPLOSIVE
VOICELESS_RETROFLEX_PLOSIVE VOICELESS_RETROFLEX_PLOSIVE_WITH_VOICELESS_RETROFLEX_FRICATIVE
CLOSE_CENTRAL_ROUNDED_VOWEL LABIODENTAL_APPROXIMANT LABIODENTAL_FLAP OPEN_MID_BACK_UNROUNDED_VOWEL
VOICELESS_LABIO_VELAR_FRICATIVE PALATAL_LATERAL_APPROXIMANT CLOSE_CLOSE_MID_HIGH_FRONT_ROUNDED_VOWEL
VOICED_RETROFLEX_FRICATIVE VOICED_ALVEOPALATAL_FRICATIVE VOICED_POSTALVEOLAR_FRICATIVE GLOTTAL_PLOSIVE
VOICED_PHARYNGEAL_FRICATIVE VOICED_BILABIAL_TRILL VOICED_PALATAL_FRICATIVE VELAR_LATERAL_APPROXIMANT
VOICED_BILABIAL_FRICATIVE VOICELESS_DENTAL_FRICATIVE VOICED_UVULAR_FRICATIVE PLACE_LABIAL
PLACE_PALATALIZED_LAB PLACE_LABIOVELARIZED_LAB PLACE_LABIOVELAR PLACE_MANNER_LABIOVELAR_OBS PLACE_DENTAL
PLACE_LABIOVELARIZED_ALVEOLAR PLACE_ALVEOLAR PLACE_PALATOALVEOLAR PLACE_ALVEOPALATAL PLACE_PALATAL
PLACE_RETROFLEX PLACE_MANNER_RETROFLEX_OBS PLACE_VELAR PLACE_PALATALIZED_VELAR PLACE_LABIOVELARIZED_VELAR
PLACE_UVULAR PLACE_PHAR_EPIGLOTTAL PLACE_GLOTTAL PLACE_FRONT_ROUND PLACE_NON_LOW_UNROUNDED APICICAL_LAMIMANL
VELAR_UVULAR NASAL_MINUS_NASAL TENSE_MINUS_TENSE ROUND_MINUS_ROUND HI_MINUS_HI LO_MINUS_LO VOWEL_3 VOWEL_4
VOWEL_5 VOWEL_6 VOWEL_7 VOW_8 VOW_9 VOW_10_MORE CONS_ASP OBS_VD_VLESS CONT_VD_VLESS SON_VD_VLESS VOW_VD_VLESS
""".split())
FEATURES: tuple[str, ...] = SYNTAX_FEATURES + PHONOLOGY_FEATURES + INVENTORY_FEATURES
NUM_FEATURES = 289
assert len(SYNTAX_FEATURES) == 103 and len(PHONOLOGY_FEATURES) == 28 and len(FEATURES) == NUM_FEATURES
INDEX = {name: i for i, name in enumerate(FEATURES)}

# ---------------------------------------------------------------------------- syntax
# The oblique position follows the constituent order in the world's grammar (SVO: S V O X,
# SOV: S X O V, VSO: V S O X), so those features belong to `order`.
ORDER_FEATURES: dict[str, tuple[str, ...]] = {
    "SVO": ("SVO", "SUBJECT_BEFORE_VERB", "OBJECT_AFTER_VERB", "SUBJECT_BEFORE_OBJECT", "VOX",
            "OBLIQUE_AFTER_VERB", "OBLIQUE_AFTER_OBJECT"),
    "SOV": ("SOV", "SUBJECT_BEFORE_VERB", "OBJECT_BEFORE_VERB", "SUBJECT_BEFORE_OBJECT", "XOV",
            "OBLIQUE_BEFORE_VERB", "OBLIQUE_BEFORE_OBJECT"),
    "VSO": ("VSO", "SUBJECT_AFTER_VERB", "OBJECT_AFTER_VERB", "SUBJECT_BEFORE_OBJECT", "VOX",
            "OBLIQUE_AFTER_VERB", "OBLIQUE_AFTER_OBJECT"),
}
ORDER_OWNED = ("SVO", "SOV", "VSO", "VOS", "OVS", "OSV", "SUBJECT_BEFORE_VERB", "SUBJECT_AFTER_VERB",
               "OBJECT_AFTER_VERB", "OBJECT_BEFORE_VERB", "SUBJECT_BEFORE_OBJECT", "SUBJECT_AFTER_OBJECT", "VOX",
               "XVO", "XOV", "OXV", "OVX", "OBLIQUE_AFTER_VERB", "OBLIQUE_AFTER_OBJECT", "OBLIQUE_BEFORE_VERB",
               "OBLIQUE_BEFORE_OBJECT")
SIDED = {  # parameter -> {value: features set}; the parameter owns all of them
    "adposition": {"pre": ("ADPOSITION_BEFORE_NOUN",), "post": ("ADPOSITION_AFTER_NOUN",)},
    "adjective": {"before": ("ADJECTIVE_BEFORE_NOUN",), "after": ("ADJECTIVE_AFTER_NOUN",)},
    "possessor": {"before": ("POSSESSOR_BEFORE_NOUN",), "after": ("POSSESSOR_AFTER_NOUN",)},
    "determiner": {"before": ("DEMONSTRATIVE_WORD_BEFORE_NOUN", "ARTICLE_WORD_BEFORE_NOUN"),
                   "after": ("DEMONSTRATIVE_WORD_AFTER_NOUN", "ARTICLE_WORD_AFTER_NOUN")},
    "numeral": {"before": ("NUMERAL_BEFORE_NOUN",), "after": ("NUMERAL_AFTER_NOUN",)},
    "negation": {"before": ("NEGATIVE_WORD_BEFORE_VERB", "NEGATIVE_WORD_ADJACENT_BEFORE_VERB"),
                 "after": ("NEGATIVE_WORD_AFTER_VERB", "NEGATIVE_WORD_ADJACENT_AFTER_VERB")},
    "plural": {"none": (), "suffix": ("PLURAL_SUFFIX",), "prefix": ("PLURAL_PREFIX",)},
    "case": {"none": (), "accusative": ("CASE_SUFFIX", "CASE_MARK", "NOMINATIVE_VS_ACCUSATIVE_MARK",
                                        "OBJECT_DEPMARK")},
}
CONSTANT = ("S_DEFINITE_WORD", "S_INDEFINITE_WORD", "S_NEGATIVE_WORD")  # 1 for every world language


def syntax_features(syntax: Syntax) -> set[str]:
    """The syntax features that are 1."""
    on = {f"S_{name}" for name in ORDER_FEATURES[syntax.order]}
    for parameter, values in SIDED.items():
        on.update(f"S_{name}" for name in values[getattr(syntax, parameter)])
    return on


# ---------------------------------------------------------------------------- phonology and inventory
PLACE_FEATURES = {"labial": "INV_PLACE_LABIAL", "dental": "INV_PLACE_DENTAL", "alveolar": "INV_PLACE_ALVEOLAR",
                  "palatoalveolar": "INV_PLACE_PALATOALVEOLAR", "palatal": "INV_PLACE_PALATAL",
                  "velar": "INV_PLACE_VELAR", "uvular": "INV_PLACE_UVULAR", "glottal": "INV_PLACE_GLOTTAL"}
VOWEL_COUNT_FEATURES = {3: "INV_VOWEL_3", 4: "INV_VOWEL_4", 5: "INV_VOWEL_5", 6: "INV_VOWEL_6", 7: "INV_VOWEL_7",
                        8: "INV_VOW_8", 9: "INV_VOW_9"}


def _voicing_contrast(phonemes: list, manners: tuple[str, ...]) -> bool:
    pairs = {(p.place, p.manner, p.voiced) for p in phonemes if p.manner in manners}
    return any((place, manner, not voiced) in pairs for place, manner, voiced in pairs)


def sound_features(sounds: SoundSystem) -> set[str]:
    """The phonology (P_) and inventory (INV_) features that are 1."""
    phonemes = [PHONEMES[s] for s in sorted(sounds.inventory)]
    consonants = [p for p in phonemes if not p.vowel]
    vowels = [p for p in phonemes if p.vowel]
    on = {p.uriel for p in phonemes if p.uriel}
    on.update(PLACE_FEATURES[p.place] for p in consonants)
    qualities = len({p.symbol for p in vowels if not p.long})
    on.add(VOWEL_COUNT_FEATURES.get(qualities, "INV_VOW_10_MORE") if qualities >= 3 else "INV_VOWEL_3")
    obstruent_contrast = _voicing_contrast(consonants, ("plosive", "fricative", "affricate"))
    fricative_contrast = _voicing_contrast(consonants, ("fricative",))
    flags = {
        "P_VOICE": obstruent_contrast, "INV_OBS_VD_VLESS": obstruent_contrast, "INV_CONT_VD_VLESS": fricative_contrast,
        "P_VOICED_PLOSIVES": any(p.manner == "plosive" and p.voiced for p in consonants),
        "P_VOICED_FRICATIVES": any(p.manner == "fricative" and p.voiced for p in consonants),
        "P_UVULARS": any(p.place == "uvular" for p in consonants),
        "P_UVULAR_STOPS": any(p.place == "uvular" and p.manner == "plosive" for p in consonants),
        "P_LATERALS": any(p.manner == "lateral" for p in consonants), "P_LATERAL_L": "l" in sounds.inventory,
        "P_FRONT_ROUND_VOWELS": any(p.front_rounded for p in vowels),
        "INV_PLACE_FRONT_ROUND": any(p.front_rounded for p in vowels),
        "P_BILABIALS": any(s in sounds.inventory for s in ("p", "b", "m")),
        "P_FRICATIVES": any(p.manner == "fricative" for p in consonants),
        "P_NASALS": any(p.manner == "nasal" for p in consonants), "P_TH": "θ" in sounds.inventory,
        "P_VELAR_NASAL": "ŋ" in sounds.inventory, "P_VELAR_NASAL_INITIAL": sounds.initial_velar_nasal,
        "P_CODAS": sounds.codas, "P_COMPLEX_ONSETS": sounds.complex_onsets, "P_COMPLEX_CODAS": sounds.complex_codas,
        "P_LONG_VOWELS": any(p.long for p in vowels),
    }
    on.update(name for name, value in flags.items() if value)
    return on


def feature_owners() -> dict[str, str]:
    """feature -> the parameter that sets it: a Syntax field, ``sounds``, ``constant`` or ``absent``
    (0 for every world language)."""
    owners = dict.fromkeys(FEATURES, "absent")
    owners.update({f"S_{name}": "order" for name in ORDER_OWNED})
    for parameter, values in SIDED.items():
        owners.update({f"S_{name}": parameter for names in values.values() for name in names})
    owners.update(dict.fromkeys(CONSTANT, "constant"))
    every_sound = SoundSystem(frozenset(PHONEMES), True, True, True, True)
    owners.update(dict.fromkeys(sound_features(every_sound) | set(VOWEL_COUNT_FEATURES.values())
                                | {"INV_VOW_10_MORE"}, "sounds"))
    return owners


FEATURE_OWNERS = feature_owners()


def typology_vector(syntax: Syntax, sounds: SoundSystem) -> np.ndarray:
    """t_l: the language's 289 binary features (float32 0/1, URIEL's order)."""
    vector = np.zeros(NUM_FEATURES, dtype=np.float32)
    for name in syntax_features(syntax) | sound_features(sounds) | set(CONSTANT):
        vector[INDEX[name]] = 1.0
    return vector


# ---------------------------------------------------------------------------- lang2vec-format file
URIEL_FILE = "feature_predictions.npz"


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def write_uriel_directory(directory: Path, vectors: Mapping[str, np.ndarray]) -> Path:
    """``directory/feature_predictions.npz`` in lang2vec's layout (``data`` (languages, features, 1),
    ``langs``, ``feats``, ``sources``), byte-identical for the same vectors (fixed zip timestamps)."""
    codes = sorted(vectors)
    data = np.stack([np.asarray(vectors[c], dtype=np.float32) for c in codes])[:, :, None]
    arrays = {"data": data, "sources": np.array(["world"]), "langs": np.array(codes),
              "feats": np.array(FEATURES)}
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / URIEL_FILE
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            archive.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), _npy_bytes(array))
    return path


def uriel_table(vectors: Mapping[str, np.ndarray]):
    """An :class:`xlt.typology.uriel.UrielTable` of the world's languages (for ``resolve_code`` /
    ``uriel_vector``'s ``table`` argument)."""
    from xlt.typology.uriel import UrielTable

    codes = tuple(sorted(vectors))
    return UrielTable(codes, np.stack([np.asarray(vectors[c], dtype=np.float32) for c in codes]), FEATURES, {})
