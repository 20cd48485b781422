"""Custom Rasa 3.6 graph components for Vietnamese, registered the documented way.

The text reaching Rasa is already normalised by the shared normaliser (bot.text); this tokenizer
never rewrites it: each token is a slice of the message at its exact offsets (Rasa looks entity
values up in the text). Each token's diacritic-free form is its `lemma`, so a CountVectorsFeaturizer
with `use_lemma: true` featurises the folded form and one with `use_lemma: false` the accented one.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message

from bot.text import fold

# A syllable, a number or code with its inner separators (1.001193, 12/05/2024), or any other
# run of non-space symbols; spaces are the only thing between tokens.
TOKEN_RE = re.compile(r"\d+(?:[.,/:\-]\d+)*|[^\W\d_]+|[^\s\w]+|\w+", re.UNICODE)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class VietnameseTokenizer(Tokenizer):
    """Vietnamese syllable tokenizer with exact character offsets and folded lemmas."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
        }

    @staticmethod
    def supported_languages() -> Optional[List[Text]]:
        return None

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "VietnameseTokenizer":
        return cls(config)

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        text = message.get(attribute) or ""
        tokens = [Token(m.group(), m.start(), m.end(), lemma=fold(m.group())) for m in TOKEN_RE.finditer(text)]
        return self._apply_token_pattern(tokens or [Token(text, 0, len(text), lemma=fold(text))])
