"""Rasa actions (rasa-sdk). Loading the search index here makes the action server report healthy
only once the first citizen's question can be answered without waiting for the model to load."""

from bot.knowledge.search import live_index

live_index.get()
