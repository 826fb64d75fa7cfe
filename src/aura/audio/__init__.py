"""Speech in and out for the real-time assistant: VAD, ASR, TTS wrappers and sentence splitting.

Every heavy dependency (silero-vad, faster-whisper, piper-tts and the packages that ship their
weights) is imported lazily, so the text-only session works without the ``speech`` extra.
"""
