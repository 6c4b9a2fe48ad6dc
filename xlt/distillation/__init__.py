"""Knowledge distillation (thesis chapter 5, BiStillation): losses; no Lightning, no pipeline."""
