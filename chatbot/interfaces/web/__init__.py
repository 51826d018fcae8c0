"""The browser chat (Gradio): texts (``texts.yaml``), stylesheet (``style.css``), HTML rendering (``render``),
per-browser state (``state``), handlers (``handlers.WebChat``), layout (``layout``) and mounting (``mount``).

``chatbot.interfaces.server`` mounts it next to the HTTP API; no medical logic lives here.
"""
