"""Sounds, spelling and sound change: how each language gets its own word forms (rationale in the
docstring of :mod:`xlt.data.world`).

A family has a proto-phonology (consonant and vowel inventory, syllable shapes) from which the
proto-form of every concept is drawn. Each daughter language applies its own ordered list of
regular sound changes (drawn by the seed from the family's menu of natural changes: lenition,
palatalisation, final-vowel loss, mergers) to every proto-form, as the comparative method assumes:
related languages therefore share cognates, identical where no change applied and systematically
different where one did, while unrelated families share nothing but chance resemblances. A
language's phoneme inventory and phonotactics (:class:`SoundSystem`) are read off its actual
word forms and give its URIEL phonology and inventory features.

Forms are spelled in a Latin orthography, one letter (or a doubled vowel for length) per
phoneme, as most of the thesis's low-resource target languages are written.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

Word = tuple[str, ...]  # a sequence of phoneme symbols


@dataclass(frozen=True)
class Phoneme:
    symbol: str
    spelling: str
    vowel: bool
    place: str = ""  # consonants: labial, dental, alveolar, palatoalveolar, palatal, velar, uvular, glottal
    manner: str = ""  # plosive, affricate, fricative, nasal, lateral, trill, approximant
    voiced: bool = True
    uriel: str | None = None  # the URIEL inventory feature (INV_...) of this segment, if URIEL has one
    front_rounded: bool = False
    long: bool = False


def _c(symbol: str, spelling: str, place: str, manner: str, voiced: bool, uriel: str | None) -> Phoneme:
    return Phoneme(symbol, spelling, False, place, manner, voiced, uriel)


def _v(symbol: str, spelling: str, uriel: str | None, front_rounded: bool = False, long: bool = False) -> Phoneme:
    return Phoneme(symbol, spelling, True, uriel=uriel, front_rounded=front_rounded, long=long)


PHONEMES: dict[str, Phoneme] = {p.symbol: p for p in (
    _c("p", "p", "labial", "plosive", False, "INV_VOICELESS_BILABIAL_PLOSIVE"),
    _c("b", "b", "labial", "plosive", True, "INV_VOICED_BILABIAL_PLOSIVE"),
    _c("t", "t", "alveolar", "plosive", False, "INV_VOICELESS_ALVEOLAR_PLOSIVE"),
    _c("d", "d", "alveolar", "plosive", True, "INV_VOICED_ALVEOLAR_PLOSIVE"),
    _c("k", "k", "velar", "plosive", False, "INV_VOICELESS_VELAR_PLOSIVE"),
    _c("g", "g", "velar", "plosive", True, None),
    _c("q", "q", "uvular", "plosive", False, "INV_VOICELESS_UVULAR_PLOSIVE"),
    _c("ts", "c", "alveolar", "affricate", False, "INV_VOICELESS_ALVEOLAR_PLOSIVE_WITH_VOICELESS_ALVEOLAR_FRICATIVE"),
    _c("tʃ", "č", "palatoalveolar", "affricate", False,
       "INV_VOICELESS_ALVEOLAR_PLOSIVE_WITH_VOICELESS_ALVEOPALATAL_FRICATIVE"),
    _c("m", "m", "labial", "nasal", True, "INV_BILABIAL_NASAL"),
    _c("n", "n", "alveolar", "nasal", True, "INV_ALVEOLAR_NASAL"),
    _c("ɲ", "ñ", "palatal", "nasal", True, "INV_PALATAL_NASAL"),
    _c("ŋ", "ŋ", "velar", "nasal", True, "INV_VELAR_NASAL"),
    _c("f", "f", "labial", "fricative", False, "INV_VOICELESS_LABIODENTAL_FRICATIVE"),
    _c("v", "v", "labial", "fricative", True, "INV_VOICED_LABIODENTAL_FRICATIVE"),
    _c("θ", "þ", "dental", "fricative", False, "INV_VOICELESS_DENTAL_FRICATIVE"),
    _c("s", "s", "alveolar", "fricative", False, "INV_VOICELESS_ALVEOLAR_FRICATIVE"),
    _c("z", "z", "alveolar", "fricative", True, None),
    _c("ʃ", "š", "palatoalveolar", "fricative", False, "INV_VOICELESS_POSTALVEOLAR_FRICATIVE"),
    _c("x", "x", "velar", "fricative", False, "INV_VOICELESS_VELAR_FRICATIVE"),
    _c("ɣ", "ğ", "velar", "fricative", True, "INV_VOICED_VELAR_FRICATIVE"),
    _c("h", "h", "glottal", "fricative", False, "INV_VOICELESS_GLOTTAL_FRICATIVE"),
    _c("l", "l", "alveolar", "lateral", True, "INV_ALVEOLAR_LATERAL_APPROXIMANT"),
    _c("r", "r", "alveolar", "trill", True, "INV_ALVEOLAR_TRILL"),
    _c("j", "y", "palatal", "approximant", True, "INV_PALATAL_APPROXIMANT"),
    _c("w", "w", "labial", "approximant", True, "INV_VOICED_LABIAL_VELAR_APPROXIMANT"),
    _v("a", "a", "INV_OPEN_FRONT_UNROUNDED_VOWEL"),
    _v("e", "e", "INV_CLOSE_MID_FRONT_UNROUNDED_VOWEL"),
    _v("ɛ", "è", "INV_OPEN_MID_FRONT_UNROUNDED_VOWEL"),
    _v("i", "i", "INV_CLOSE_FRONT_UNROUNDED_VOWEL"),
    _v("o", "o", "INV_OPEN_MID_BACK_ROUNDED_VOWEL"),
    _v("u", "u", "INV_CLOSE_BACK_ROUNDED_VOWEL"),
    _v("y", "ü", "INV_CLOSE_FRONT_ROUNDED_VOWEL", front_rounded=True),
    _v("ø", "ö", "INV_CLOSE_MID_FRONT_ROUNDED_VOWEL", front_rounded=True),
    _v("ə", "ë", "INV_MID_CENTRAL_UNROUNDED_VOWEL"),
    _v("ɨ", "ï", "INV_CLOSE_CENTRAL_UNROUNDED_VOWEL"),
    _v("aː", "aa", None, long=True),
    _v("iː", "ii", None, long=True),
    _v("uː", "uu", None, long=True),
)}
FRONT_VOWELS = frozenset({"i", "e", "ɛ", "y", "ø", "iː"})
VOWEL_LETTERS = frozenset("aeiouüöëïè")


def is_vowel(symbol: str) -> bool:
    return PHONEMES[symbol].vowel


def spell(word: Word) -> str:
    return "".join(PHONEMES[s].spelling for s in word)


def capitalise(form: str) -> str:
    return form[:1].upper() + form[1:]


# ---------------------------------------------------------------------------- sound changes
@dataclass(frozen=True)
class SoundChange:
    """One regular sound change. ``kind``: ``shift`` (a -> b everywhere), ``intervocalic`` (a -> b
    between vowels: lenition), ``palatal`` (a -> b before a front vowel), ``apocope`` (a word-final
    short vowel after a single consonant is lost in words of two or more syllables), ``shorten``
    (long vowels become short), ``unround`` (front rounded vowels lose their rounding)."""

    kind: str
    source: str = ""
    target: str = ""

    def describe(self) -> str:
        if self.kind in ("apocope", "shorten", "unround"):
            return self.kind
        context = {"shift": "", "intervocalic": " / V_V", "palatal": " / _[front vowel]"}[self.kind]
        return f"{self.source} > {self.target}{context}"

    def apply(self, word: Word, affix: bool = False) -> Word:
        out = list(word)
        if self.kind == "shift":
            return tuple(self.target if s == self.source else s for s in out)
        if self.kind == "intervocalic":
            return tuple(self.target if s == self.source and 0 < i < len(out) - 1 and is_vowel(out[i - 1])
                         and is_vowel(out[i + 1]) else s for i, s in enumerate(out))
        if self.kind == "palatal":
            return tuple(self.target if s == self.source and i + 1 < len(out) and out[i + 1] in FRONT_VOWELS
                         else s for i, s in enumerate(out))
        if self.kind == "apocope":
            vowels = sum(is_vowel(s) for s in out)
            if (not affix and vowels >= 2 and len(out) >= 3 and is_vowel(out[-1]) and not PHONEMES[out[-1]].long
                    and not is_vowel(out[-2]) and is_vowel(out[-3])):
                return tuple(out[:-1])
            return word
        if self.kind == "shorten":
            return tuple(s[0] if PHONEMES[s].long else s for s in out)
        if self.kind == "unround":
            return tuple({"y": "i", "ø": "e"}.get(s, s) for s in out)
        raise ValueError(self.kind)


def apply_changes(word: Word, changes: Sequence[SoundChange], affix: bool = False) -> Word:
    for change in changes:
        word = change.apply(word, affix)
    return word


def _shift(a: str, b: str) -> SoundChange:
    return SoundChange("shift", a, b)


# ---------------------------------------------------------------------------- family phonologies
@dataclass(frozen=True)
class ProtoPhonology:
    """A family's proto-language sound system and syllable shapes, and its menu of sound changes."""

    consonants: tuple[str, ...]
    vowels: tuple[str, ...]
    codas: tuple[str, ...] = ()  # consonants allowed to close a syllable (none: open syllables only)
    coda_rate: float = 0.0
    clusters: tuple[str, ...] = ()  # second consonants of complex onsets (e.g. l, r: "pl", "tr")
    cluster_rate: float = 0.0
    changes: tuple[SoundChange, ...] = ()

    def syllable(self, rng: random.Random, onset: bool = True, coda: bool = True) -> Word:
        out: list[str] = []
        if onset:
            out.append(rng.choice(self.consonants))
            if self.clusters and rng.random() < self.cluster_rate and out[0] in ("p", "t", "k", "b", "d", "g"):
                out.append(rng.choice(self.clusters))
        out.append(rng.choice(self.vowels))
        if coda and self.codas and rng.random() < self.coda_rate:
            out.append(rng.choice(self.codas))
        return tuple(out)

    def word(self, rng: random.Random, syllables: int) -> Word:
        parts: list[str] = []
        for _ in range(syllables):
            parts.extend(self.syllable(rng))
        return tuple(parts)

    def content_word(self, rng: random.Random) -> Word:
        return self.word(rng, rng.choices((1, 2, 3), weights=(1, 6, 3))[0])

    def function_word(self, rng: random.Random) -> Word:
        return self.word(rng, rng.choices((1, 2), weights=(4, 1))[0])

    def affix(self, rng: random.Random) -> Word:
        return self.syllable(rng, coda=False)


PROTO_PHONOLOGIES: dict[str, ProtoPhonology] = {
    # Medial family (SVO): a European-like inventory with a voicing contrast, closed syllables and
    # stop + liquid onsets.
    "medial": ProtoPhonology(
        consonants=("p", "t", "k", "b", "d", "g", "m", "n", "s", "l", "r", "w", "f", "h"),
        vowels=("a", "e", "i", "o", "u"), codas=("n", "s", "r", "l", "m"), coda_rate=0.3,
        clusters=("l", "r"), cluster_rate=0.12,
        changes=(_shift("p", "f"), SoundChange("intervocalic", "t", "d"), SoundChange("intervocalic", "k", "g"),
                 SoundChange("palatal", "k", "tʃ"), SoundChange("palatal", "s", "ʃ"), _shift("o", "u"),
                 _shift("e", "ɛ"), SoundChange("apocope"), _shift("w", "v"), _shift("t", "θ"), _shift("r", "l"))),
    # Final family (SOV): vowel harmony-like seven-vowel system with front rounded vowels (Turkic,
    # Uralic), a postalveolar fricative, a velar nasal, nasal and rhotic codas only.
    "final": ProtoPhonology(
        consonants=("p", "t", "k", "b", "d", "g", "m", "n", "s", "ʃ", "z", "j", "ŋ", "r"),
        vowels=("a", "e", "i", "o", "u", "y", "ø"), codas=("n", "r", "ŋ"), coda_rate=0.2,
        changes=(_shift("ʃ", "s"), _shift("k", "x"), SoundChange("intervocalic", "g", "ɣ"), SoundChange("unround"),
                 _shift("z", "s"), _shift("b", "v"), SoundChange("palatal", "t", "tʃ"), _shift("ŋ", "n"),
                 SoundChange("apocope"), _shift("e", "ə"))),
    # Initial family (VSO): a three-vowel system with length and a uvular stop (Semitic, Quechuan).
    "initial": ProtoPhonology(
        consonants=("p", "t", "k", "q", "m", "n", "s", "x", "h", "l", "r", "w", "j"),
        vowels=("a", "i", "u", "a", "i", "u", "aː", "iː", "uː"), codas=("n", "l", "r", "s", "q"), coda_rate=0.25,
        changes=(_shift("q", "k"), _shift("x", "h"), SoundChange("palatal", "k", "tʃ"), SoundChange("shorten"),
                 _shift("p", "f"), _shift("s", "ʃ"), _shift("w", "v"), _shift("u", "o"),
                 SoundChange("intervocalic", "t", "d"))),
    # The isolate: strictly open syllables, a palatal and a velar nasal, a mid-central vowel
    # (Austronesian-like).
    "lone": ProtoPhonology(
        consonants=("p", "t", "k", "m", "n", "ŋ", "ɲ", "s", "h", "w", "l", "j"),
        vowels=("a", "e", "i", "o", "u", "ə")),
}


# ---------------------------------------------------------------------------- a language's sounds
@dataclass(frozen=True)
class SoundSystem:
    """What a language's word forms show of its phonology: its phonemes and phonotactics (the
    input of the URIEL phonology and inventory features, :mod:`xlt.data.world.typology`)."""

    inventory: frozenset[str]
    codas: bool  # some syllable is closed
    complex_onsets: bool  # some word starts with two consonants
    complex_codas: bool  # some word ends with two consonants
    initial_velar_nasal: bool  # some word starts with the velar nasal

    @classmethod
    def of(cls, words: Sequence[Word]) -> SoundSystem:
        inventory: set[str] = set()
        codas = onsets = finals = initial_ng = False
        for word in words:
            inventory.update(word)
            vowel = [is_vowel(s) for s in word]
            # a consonant followed by a consonant or ending the word closes a syllable
            codas = codas or any(not v and (i == len(word) - 1 or not vowel[i + 1]) and i > 0
                                 for i, v in enumerate(vowel))
            onsets = onsets or (len(word) > 1 and not vowel[0] and not vowel[1])
            finals = finals or (len(word) > 1 and not vowel[-1] and not vowel[-2])
            initial_ng = initial_ng or word[0] == "ŋ"
        return cls(frozenset(inventory), codas, onsets, finals, initial_ng)

    def as_json(self) -> dict[str, object]:
        return {"inventory": sorted(self.inventory),
                "spelling": {s: PHONEMES[s].spelling for s in sorted(self.inventory)},
                "codas": self.codas, "complex_onsets": self.complex_onsets, "complex_codas": self.complex_codas,
                "initial_velar_nasal": self.initial_velar_nasal}
