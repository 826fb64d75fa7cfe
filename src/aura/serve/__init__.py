"""The real-time system and the servers: sessions, WebSocket protocol, OpenAI-compatible API.

``aura.serve.app.create_app`` builds the ``aura serve`` application; the OpenAI routes live in
``aura.serve.openai_api``.
"""
