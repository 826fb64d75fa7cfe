"""aura: an open implementation of AURA, an always-on streaming video assistant."""

__version__ = "0.1.0"
