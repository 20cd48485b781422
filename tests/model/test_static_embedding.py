"""In the model environment (.venv-model: the runtime plus sentence-transformers and torch, built by
`make test`): training is reproducible, and the numpy evaluation the gateway serves with gives
sentence-transformers' own vectors for every dev question."""

import csv

import numpy as np
from sentence_transformers import SentenceTransformer

from bot.knowledge.embedding import Encoder, StaticEncoder, TransformerEncoder, train
from bot.text import normalize
from tests.conftest import ROOT

MODEL = ROOT / "models" / "embedding"


def dev_questions() -> list[str]:
    questions = []
    for name, column in (("answers_dev.tsv", "question"), ("search_dev.tsv", "query")):
        with (ROOT / "tests" / "data" / name).open(encoding="utf-8") as rows:
            questions += [row[column] for row in csv.DictReader(rows, delimiter="\t")]
    return questions


def test_numpy_and_sentence_transformers_give_the_same_vectors_on_the_dev_questions():
    questions = [normalize(q) for q in dev_questions()]
    assert len(questions) > 500
    ours = StaticEncoder(MODEL)(questions)
    theirs = SentenceTransformer(str(MODEL), device="cpu").encode(questions, convert_to_numpy=True)
    assert ours.shape == theirs.shape
    assert float(np.abs(ours - theirs).max()) < 1e-5


def test_any_other_model_goes_through_sentence_transformers(tmp_path):
    """An operator's EMBEDDING_MODEL: here the static model followed by a Normalize module, which
    is no longer the one-module static format the numpy path reads."""
    from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding

    SentenceTransformer(modules=[StaticEmbedding.load(str(MODEL)), Normalize()], device="cpu").save(str(tmp_path))
    other, shipped = Encoder(str(tmp_path)), Encoder(str(MODEL))
    assert isinstance(other.embed, TransformerEncoder) and isinstance(shipped.embed, StaticEncoder)
    questions = dev_questions()[:50]
    assert float(np.abs(other.encode(questions) - shipped.encode(questions)).max()) < 1e-5


def test_training_is_reproducible_and_loads_as_a_sentence_transformer(tmp_path):
    first = train(ROOT / "knowledge", ROOT / "nlu_data", tmp_path / "a", dim=32, vocab_size=800, epochs=1, limit=400)
    second = train(ROOT / "knowledge", ROOT / "nlu_data", tmp_path / "b", dim=32, vocab_size=800, epochs=1, limit=400)
    assert (first / "model.safetensors").read_bytes() == (second / "model.safetensors").read_bytes()
    vectors = SentenceTransformer(str(first)).encode(["đăng ký khai sinh", "dang ky khai sinh"])
    assert vectors.shape == (2, 32)
