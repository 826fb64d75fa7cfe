"""Streaming model backends behind one interface (``aura.models.base.StreamingModel``)."""
