"""Local lm-evaluation-harness tasks over the bundled samples (``recipe.harness.include_path``)."""
