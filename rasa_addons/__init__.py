"""Code that runs inside the Rasa server (Python 3.10). Imports only `rasa`, the standard library
and the shared normaliser `bot.text`; never the app."""
