"""A synthetic multilingual world: languages from one grammar, and tasks from their trees (issue 15,
items 1-2), on which the thesis's findings can be measured on a CPU.

``write_world(OUT_DIR, seed)`` (or ``python -m xlt.data.world OUT_DIR --seed N``) writes, byte for
byte the same for the same seed, thirteen languages' lexicons, corpora, parallel corpora, typology
vectors and task data in the real datasets' formats (layout: :mod:`xlt.data.world.world`). The
design below is fixed from its linguistic rationale, before any finding is measured on it
(docs/fidelity.md repeats it with the table of languages).

Why the world looks like this
-----------------------------
Cross-lingual transfer in a multilingual encoder rests on what languages share. The thesis's
methods differ in how they cope with what they do not share: language adaptation (chapters 3, 4)
fills the gap for languages the model has seen little or nothing of, task-module sparsity and
composition (chapter 4) keep task and language knowledge apart, translation (chapter 6) replaces
the gap by a second model. A world for checking those findings must therefore have (1) languages
that share an underlying meaning and grammar, so transfer is possible at all; (2) differences of
the kinds real languages have, in word order, morphology and vocabulary, graded by relatedness, so
it is not trivial; (3) the thesis's resource landscape: a few high-resource languages, low-resource
ones the encoder saw a little of, unseen ones with only a small corpus, and a translation model
that covers some languages and not others.

1. *One meaning space, one grammar.* Every language expresses the same clauses (a verb with its
   subject, object and an oblique; noun phrases with determiner, numeral, adjectives, a possessor,
   or a name) drawn from one concept inventory (:mod:`~xlt.data.world.concepts`): 80 nouns in five
   classes (person, animal, thing, place, organisation), 37 verbs (25 transitive) with selectional
   frames, 30 adjectives (half with a polarity, most in antonym pairs), determiners, six
   adpositions, negation, question words, digits and names. Concepts keep the same Zipf rank in
   every language, as translation equivalents roughly do, so only corpus size separates a
   high-resource from a low-resource language. Sentences are dependency trees with UD relations
   (:mod:`~xlt.data.world.grammar`), so POS tags, parses, entity spans and answer spans are exact,
   and the same clause realised in two languages is a perfect translation.
2. *Typological parameters.* A language is a setting of nine word-order and morphology switches
   (:mod:`~xlt.data.world.params`): constituent order (SVO, SOV, VSO: the three commonest in WALS,
   1,148 of its 1,188 languages with a dominant order, Dryer 2013), adpositions, the order of
   adjective, possessor, determiner and numeral relative to the noun, the negative particle's side
   of the verb, plural marking (suffix, prefix, none) and accusative case. Families follow
   Greenberg's correlations (VO with prepositions, OV with postpositions and possessor-noun order):
   a head-initial/mixed SVO family like English, a consistently head-final SOV family with case
   like Turkish or Japanese, a VSO family with noun-adjective order like Welsh or Arabic, and an
   analytic SVO isolate with every nominal modifier after the noun like Thai or Yoruba. A prototype
   on this machine (../shared/notes/synthetic-world-feasibility.md) found zero-shot transfer and
   language adaptation working only toward languages whose word order a pretraining language
   shares, as published work on synthetic languages did (Dufter & Schütze 2020; K et al. 2020;
   Deshpande et al. 2022): so each order type has its own high-resource pretraining language, and
   transfer across order types (from the primary source, like English to Japanese in the thesis) is
   hard, as it is in reality.
3. *Lexicons by descent.* Each family has a proto-phonology (its own consonants, vowels and
   syllable shapes) from which the seed draws a proto-form per concept; each language applies its
   own ordered regular sound changes (lenition, palatalisation, final-vowel loss, mergers, shifts;
   :mod:`~xlt.data.world.phonology`), one for the high-resource language, two for its close
   relatives, four for the distant one. Related languages thus share cognates, identical where no
   change applied and systematically different where one did (the comparative method's premise),
   and subword overlap grows with relatedness, as between real related languages. Unrelated
   families share only what real unrelated languages share: digits, names (spelled alike, as
   Latin-script languages spell foreign names) and punctuation, plus chance resemblances of short
   forms. All languages are written in a Latin orthography, one letter per phoneme (as most of the
   thesis's target languages are); the prototype's worst case, a script per language, is not the
   thesis's situation. Forms are unambiguous within a language (a proto-form a sound change would
   merge with another word is redrawn for the family).
4. *URIEL-style typology* (:mod:`~xlt.data.world.typology`): each language's 289 features in
   URIEL's layout, the syntax features set from its parameters and the phonology/inventory ones
   from the segments and phonotactics its words show, so MAD-G's generator and the closest-language
   fallback see world languages as they see real ones, and two languages' vectors differ exactly
   where their parameters do.
5. *Roles* (:data:`~xlt.data.world.languages.LANGUAGES`): per family, a high-resource language seen
   by the tiny encoder and the translation model (a task source; ``qma`` is the primary source and
   the pivot of every parallel corpus, the world's English), a low-resource seen sibling, an unseen
   sibling the translation model supports (NLLB covers languages XLM-R never saw), and an unseen,
   more distant relative it does not support (which departs from its family in one minor parameter,
   as related languages do); plus the unseen, unsupported isolate. Codes come from ISO 639-3's
   local-use range ``qaa``-``qtz``, avoiding the few such codes URIEL lists (``qbb``, ``qcs``,
   ...).
6. *Tasks from the trees* (:mod:`~xlt.data.world.tasks`), written in the real formats
   (:mod:`~xlt.data.world.formats`): POS and DP (UD CoNLL-U), NER from the names' types (MasakhaNER
   columns, IOB2), NLI pairs labelled by monotonicity (AmericasNLI TSV), sentiment from the
   evaluative words with negation (NusaX CSV), extractive QA about an argument (SQuAD JSON). Source
   training sets are large, target dev (few-shot pool) and test sets small and the same content in
   every language (as XNLI, XQuAD, AmericasNLI and NusaX are translations); corpora are sized by
   resource role. No training, corpus or parallel sentence repeats an evaluation one.

Determinism: every random choice comes from a stream seeded by (seed, purpose), sets are never
iterated unsorted, and files are written with fixed formatting, so a seed gives byte-identical files.
"""

from xlt.data.world.languages import LANGUAGES, PIVOT, Language, LanguageDesign
from xlt.data.world.params import Syntax
from xlt.data.world.typology import FEATURES, typology_vector, uriel_table, write_uriel_directory
from xlt.data.world.world import (
    LAYOUT,
    SIZE_PRESETS,
    Sizes,
    World,
    build_world,
    load_description,
    world_fingerprint,
    write_world,
)

__all__ = ["FEATURES", "LANGUAGES", "LAYOUT", "PIVOT", "SIZE_PRESETS", "Language", "LanguageDesign", "Sizes",
           "Syntax", "World", "build_world", "load_description", "typology_vector", "uriel_table",
           "write_uriel_directory", "world_fingerprint", "write_world"]
