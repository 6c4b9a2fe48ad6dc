"""Every language code of chapter 3 and the URIEL code it resolves to (xlt.typology), and the MAD-G
language groups that follow from them (Tables 3.1, 3.3, A.1, A.2).

A language must resolve to one URIEL code whichever side names it: the generator trains on Wikipedia
codes (``kv``), the targets come with UD / MasakhaNER / AmericasNLI codes (``kpv``). "Seen by the
generator" compares URIEL codes, so a mismatch silently moves a language between Table 3.1's groups.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from tests.helpers import compose_config
from xlt.methods import parse_module_config
from xlt.methods.madg.config import MadgConfig
from xlt.typology import resolve_code

# Table A.1: the generator's 95 Wikipedia languages -> URIEL (ISO 639-3 through lang2vec's letter codes,
# Wikipedia's kv (Komi: Komi-Zyrian) -> kpv, qu (Quechua) -> quy, nah (Nahuatl) -> nci: xlt.typology.ALIASES).
TRAINING = {
    "ab": "abk", "ar": "ara", "ary": "ary", "arz": "arz", "atj": "atj", "av": "ava", "ay": "aym", "azb": "azb",
    "bo": "bod", "bxr": "bxr", "cdo": "cdo", "ce": "che", "ceb": "ceb", "cv": "chv", "cy": "cym", "el": "ell",
    "en": "eng", "et": "est", "eu": "eus", "fa": "fas", "fi": "fin", "fr": "fra", "gn": "grn", "ha": "hau",
    "hak": "hak", "he": "heb", "hu": "hun", "hy": "hye", "id": "ind", "ig": "ibo", "inh": "inh", "ja": "jpn",
    "jv": "jav", "ka": "kat", "kab": "kab", "kbd": "kbd", "kbp": "kbp", "kk": "kaz", "km": "khm", "kn": "kan",
    "ko": "kor", "kv": "kpv", "la": "lat", "lbe": "lbe", "lez": "lez", "ln": "lin", "lo": "lao", "mg": "mlg",
    "mhr": "mhr", "min": "min", "ml": "mal", "mn": "mon", "mrj": "mrj", "ms": "msa", "mt": "mlt", "my": "mya",
    "myv": "myv", "nah": "nci", "new": "new", "nso": "nso", "nv": "nav", "om": "orm", "qu": "quy", "ru": "rus",
    "rw": "kin", "sah": "sah", "sat": "sat", "se": "sme", "shn": "shn", "smn": "smn", "sn": "sna", "so": "som",
    "sq": "sqi", "su": "sun", "sv": "swe", "sw": "swa", "ta": "tam", "tcy": "tcy", "te": "tel", "th": "tha",
    "tl": "tgl", "tr": "tur", "tt": "tat", "tyv": "tyv", "ug": "uig", "uz": "uzb", "vi": "vie", "war": "war",
    "wuu": "wuu", "xal": "xal", "xmf": "xmf", "yo": "yor", "za": "zha", "zh": "zho", "zu": "zul",
}
# Table A.2: the 95 UD targets -> (URIEL code, group). "nyg" in the table is Nayini, UD/ISO nyq.
UD = {
    "af": ("afr", "mBERT-seen"), "ajp": ("ajp", "mBERT-genus"), "akk": ("akk", "mBERT-genus"),
    "apu": ("apu", "unseen-genus"), "aqz": ("aqz", "unseen-genus"), "ar": ("ara", "mBERT-seen"),
    "bam": ("bam", "unseen-genus"), "be": ("bel", "mBERT-seen"), "bg": ("bul", "mBERT-seen"),
    "bho": ("bho", "mBERT-genus"), "br": ("bre", "mBERT-seen"), "bxr": ("bxr", "MAD-G-seen"),
    "ca": ("cat", "mBERT-seen"), "ckt": ("ckt", "unseen-genus"), "cs": ("ces", "mBERT-seen"),
    "cu": ("chu", "mBERT-genus"), "cy": ("cym", "mBERT-seen"), "da": ("dan", "mBERT-seen"),
    "de": ("deu", "mBERT-seen"), "el": ("ell", "mBERT-seen"), "en": ("eng", "mBERT-seen"),
    "es": ("spa", "mBERT-seen"), "et": ("est", "mBERT-seen"), "eu": ("eus", "mBERT-seen"),
    "fa": ("fas", "mBERT-seen"), "fi": ("fin", "mBERT-seen"), "fo": ("fao", "mBERT-genus"),
    "fr": ("fra", "mBERT-seen"), "fro": ("fro", "mBERT-genus"), "ga": ("gle", "mBERT-seen"),
    "gd": ("gla", "mBERT-genus"), "gl": ("glg", "mBERT-seen"), "got": ("got", "mBERT-genus"),
    "gsw": ("gsw", "mBERT-genus"), "gun": ("gun", "MAD-G-genus"), "gv": ("glv", "mBERT-genus"),
    "he": ("heb", "mBERT-seen"), "hi": ("hin", "mBERT-seen"), "hr": ("hrv", "mBERT-seen"),
    "hsb": ("hsb", "mBERT-genus"), "hu": ("hun", "mBERT-seen"), "hy": ("hye", "mBERT-seen"),
    "id": ("ind", "mBERT-seen"), "is": ("isl", "mBERT-seen"), "it": ("ita", "mBERT-seen"),
    "ja": ("jpn", "mBERT-seen"), "kfm": ("kfm", "mBERT-genus"), "kk": ("kaz", "mBERT-seen"),
    "kmr": ("kmr", "mBERT-genus"), "ko": ("kor", "mBERT-seen"), "koi": ("koi", "MAD-G-genus"),
    "kpv": ("kpv", "MAD-G-seen"), "krl": ("krl", "mBERT-genus"), "la": ("lat", "mBERT-seen"),
    "lt": ("lit", "mBERT-seen"), "lv": ("lav", "mBERT-seen"), "lzh": ("lzh", "mBERT-genus"),
    "mdf": ("mdf", "MAD-G-genus"), "mr": ("mar", "mBERT-seen"), "mt": ("mlt", "MAD-G-seen"),
    "myu": ("myu", "unseen-genus"), "myv": ("myv", "MAD-G-seen"), "nl": ("nld", "mBERT-seen"),
    "no": ("nor", "mBERT-seen"), "nyq": ("nyq", "mBERT-genus"), "olo": ("olo", "mBERT-genus"),
    "orv": ("orv", "mBERT-genus"), "pcm": ("pcm", "unseen-genus"), "pl": ("pol", "mBERT-seen"),
    "pt": ("por", "mBERT-seen"), "ro": ("ron", "mBERT-seen"), "ru": ("rus", "mBERT-seen"),
    "sa": ("san", "mBERT-genus"), "sk": ("slk", "mBERT-seen"), "sl": ("slv", "mBERT-seen"),
    "sme": ("sme", "MAD-G-seen"), "sms": ("sms", "MAD-G-genus"), "soj": ("soj", "mBERT-genus"),
    "sq": ("sqi", "mBERT-seen"), "sr": ("srp", "mBERT-seen"), "sv": ("swe", "mBERT-seen"),
    "ta": ("tam", "mBERT-seen"), "te": ("tel", "mBERT-seen"), "th": ("tha", "mBERT-seen"),
    "tl": ("tgl", "mBERT-seen"), "tr": ("tur", "mBERT-seen"), "ug": ("uig", "MAD-G-seen"),
    "uk": ("ukr", "mBERT-seen"), "ur": ("urd", "mBERT-seen"), "vi": ("vie", "mBERT-seen"),
    "wbp": ("wbp", "unseen-genus"), "wo": ("wol", "unseen-genus"), "yo": ("yor", "mBERT-seen"),
    "yue": ("yue", "mBERT-genus"), "zh": ("zho", "mBERT-seen"),
}
UNSEEN_GROUPS = ("mBERT-genus", "MAD-G-genus", "unseen-genus")
# Table A.2's mBERT-seen languages that Table A.1 also trains the generator on (seen by both)
MBERT_AND_GENERATOR = {"ar", "cy", "el", "en", "et", "eu", "fa", "fi", "fr", "he", "hu", "hy", "id", "ja", "kk", "ko",
                       "la", "ru", "sq", "sv", "ta", "te", "th", "tl", "tr", "vi", "yo", "zh"}
# Table 3.3: MasakhaNER targets -> (URIEL code, group)
MASAKHANER = {"hau": ("hau", "MAD-G-seen"), "ibo": ("ibo", "MAD-G-seen"), "kin": ("kin", "MAD-G-seen"),
              "lug": ("lug", "unseen"), "luo": ("luo", "unseen"), "pcm": ("pcm", "unseen"),
              "swa": ("swa", "mBERT-seen"), "wol": ("wol", "unseen"), "yor": ("yor", "mBERT-seen")}
# AmericasNLI targets -> URIEL code; Table B.1 trains aym, gn, nah and quy on their Wikipedias (ay, gn, nah, qu)
AMERICASNLI = {"aym": "aym", "bzd": "bzd", "cni": "cni", "gn": "grn", "hch": "hch", "nah": "nci", "oto": "ote",
               "quy": "quy", "shp": "shp", "tar": "tar"}
AMERICASNLI_WIKIPEDIA = {"aym": "ay", "gn": "gn", "nah": "nah", "quy": "qu"}
# The smoke profile's generator languages (bundled corpora named by the targets' codes)
SMOKE_TRAINING = {"en": "eng", "aym": "aym", "gn": "grn", "nah": "nci", "quy": "quy", "eu": "eus", "fi": "fin",
                  "tr": "tur", "mt": "mlt"}


def composed(experiment: str, root: Path) -> dict:
    return OmegaConf.to_container(compose_config([f"+experiment={experiment}"], root), resolve=True)


def generator(c: dict) -> MadgConfig:
    madg = parse_module_config(c["lang_module"], "lang_module")
    assert isinstance(madg, MadgConfig)
    return madg


def test_every_chapter_3_code_resolves_to_the_listed_uriel_code(tmp_path):
    madg = generator(composed("madg_train", tmp_path))
    assert madg.languages == list(TRAINING) and len(TRAINING) == 95  # Table A.1
    assert {code: resolve_code(code, madg.aliases) for code in madg.languages} == TRAINING
    assert {code: resolve_code(code, madg.aliases) for code in madg.sample_languages} == SMOKE_TRAINING
    assert len(set(TRAINING.values())) == 95  # 95 languages, 95 vectors: no two training languages merged
    for experiment, expected in (("madg_ud_pos", {code: uriel for code, (uriel, _) in UD.items()}),
                                 ("madg_masakhaner", {code: uriel for code, (uriel, _) in MASAKHANER.items()}),
                                 ("madg_americasnli", AMERICASNLI)):
        c = composed(experiment, tmp_path)
        aliases = generator(c).aliases
        assert {code: resolve_code(code, aliases) for code in c["data"]["targets"]} == expected, experiment
    assert len({uriel for uriel, _ in UD.values()}) == 95


def test_seen_by_the_generator_matches_the_thesis_groups(tmp_path):
    """Table 3.1 / A.2: 56 mBERT-seen, 6 MAD-G-seen (bxr, kpv, mt, myv, sme, ug), 33 unseen; a target is seen by
    the generator iff its language is in Table A.1. Table 3.3: hau, ibo, kin MAD-G-seen."""
    groups = [group for _, group in UD.values()]
    assert (groups.count("mBERT-seen"), groups.count("MAD-G-seen"), sum(g in UNSEEN_GROUPS for g in groups)) == \
        (56, 6, 33)
    assert [groups.count(g) for g in UNSEEN_GROUPS] == [21, 4, 8]  # §3.5.1's subgroups
    ud = composed("madg_ud_pos", tmp_path)
    madg = generator(ud)
    seen = {code for code in ud["data"]["targets"] if madg.seen_by_generator(code, use_samples=False)}
    assert {code for code in seen if UD[code][1] != "mBERT-seen"} == {"bxr", "kpv", "mt", "myv", "sme", "ug"}
    assert {code for code in seen if UD[code][1] == "mBERT-seen"} == MBERT_AND_GENERATOR
    assert not any(UD[code][1] in UNSEEN_GROUPS for code in seen)
    ner = composed("madg_masakhaner", tmp_path)
    seen = {code for code in ner["data"]["targets"] if generator(ner).seen_by_generator(code, use_samples=False)}
    assert {code for code in seen if MASAKHANER[code][1] != "mBERT-seen"} == {"hau", "ibo", "kin"}
    assert seen == {"hau", "ibo", "kin", "swa", "yor"}  # sw and yo are in Table A.1 too
    nli = composed("madg_americasnli", tmp_path)
    seen = {code for code in nli["data"]["targets"] if generator(nli).seen_by_generator(code, use_samples=False)}
    assert seen == {"aym", "gn", "nah", "quy"}


def test_a_language_named_by_its_corpus_and_by_its_target_resolves_once(tmp_path):
    """Each target whose corpus is a Wikipedia the generator trains on (data.languages.<l>.vars.wiki; Table B.1's
    AmericasNLI corpora) is that Wikipedia's language: both codes must give one URIEL code. The source languages
    of the multi-source configs are targets too."""
    madg = generator(composed("madg_train", tmp_path))
    pairs: dict[str, str] = dict(AMERICASNLI_WIKIPEDIA)
    for experiment in ("madg_ud_pos_multisource", "madg_masakhaner", "madg_ft_ud"):
        data = composed(experiment, tmp_path)["data"]
        for code in [*data["targets"], *(data.get("sources") or {})]:
            wiki = ((data["languages"].get(code) or {}).get("vars") or {}).get("wiki")
            if wiki in TRAINING:
                pairs[code] = wiki
    assert {"kpv": "kv", "sme": "se", "ug": "ug", "hau": "ha", "kin": "rw", "swa": "sw", "quy": "qu"}.items() <= \
        pairs.items()
    assert {code: resolve_code(code, madg.aliases) for code in pairs} == \
        {code: resolve_code(wiki, madg.aliases) for code, wiki in pairs.items()}
    assert all(madg.seen_by_generator(code, use_samples=False) for code in pairs)
