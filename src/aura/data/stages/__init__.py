"""The five stages: prepare, synthesize, refine, structure, verify (one module each)."""
