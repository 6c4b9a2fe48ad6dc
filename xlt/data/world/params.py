"""A language's syntactic parameters (the typological switches of the world's one grammar)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

# parameter -> its values (the first is the default of nothing; every language sets every one)
CHOICES: dict[str, tuple[str, ...]] = {
    "order": ("SVO", "SOV", "VSO"),  # constituent order of subject, verb and object (obliques follow it)
    "adposition": ("pre", "post"),  # prepositions or postpositions
    "adjective": ("before", "after"),  # attributive adjective before or after its noun
    "possessor": ("before", "after"),  # possessor phrase (nmod) before or after the possessed noun
    "determiner": ("before", "after"),  # articles and demonstratives before or after the noun
    "numeral": ("before", "after"),  # cardinal numeral before or after the noun
    "negation": ("before", "after"),  # the negative particle right before or right after the verb
    "plural": ("none", "suffix", "prefix"),  # how a plural noun is marked
    "case": ("none", "accusative"),  # an accusative suffix on common-noun objects (dependent marking)
}


@dataclass(frozen=True)
class Syntax:
    order: str
    adposition: str
    adjective: str
    possessor: str
    determiner: str
    numeral: str
    negation: str
    plural: str
    case: str

    def __post_init__(self) -> None:
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"syntax.{name}={getattr(self, name)!r}: expected one of {allowed}")

    def replace(self, **changes: str) -> Syntax:
        return Syntax(**{**asdict(self), **changes})

    def as_json(self) -> dict[str, str]:
        return asdict(self)


assert [f.name for f in fields(Syntax)] == list(CHOICES)
