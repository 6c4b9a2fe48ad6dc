"""Language typology: URIEL vectors, ISO 639 codes and similarity between languages."""

from xlt.typology.uriel import (
    ALIASES,
    NUM_FEATURES,
    closest_language,
    cosine_similarity,
    language_similarity,
    load_uriel,
    resolve_code,
    uriel_vector,
)

__all__ = ["ALIASES", "NUM_FEATURES", "closest_language", "cosine_similarity", "language_similarity", "load_uriel",
           "resolve_code", "uriel_vector"]
