from sentence_transformers import SentenceTransformer

from bot.knowledge.embedding import Encoder, train
from bot.text import abbreviate
from tests.conftest import ROOT


def test_training_is_reproducible_and_loads_as_a_sentence_transformer(tmp_path):
    first = train(ROOT / "knowledge", ROOT / "nlu_data", tmp_path / "a", dim=32, vocab_size=800, epochs=1, limit=400)
    second = train(ROOT / "knowledge", ROOT / "nlu_data", tmp_path / "b", dim=32, vocab_size=800, epochs=1, limit=400)
    assert (first / "model.safetensors").read_bytes() == (second / "model.safetensors").read_bytes()
    vectors = SentenceTransformer(str(first)).encode(["đăng ký khai sinh", "dang ky khai sinh"])
    assert vectors.shape == (2, 32)


def test_model_folds_diacritics_itself(tmp_path):
    encoder = Encoder(str(ROOT / "models" / "embedding"))
    accented, folded = encoder.encode(["làm lại căn cước bị mất", "lam lai can cuoc bi mat"])
    assert float(accented @ folded) > 0.99


def test_shipped_model_is_small():
    size = sum(p.stat().st_size for p in (ROOT / "models" / "embedding").iterdir())
    assert size <= 30_000_000


def test_abbreviate_writes_the_chat_register():
    assert abbreviate("em muốn làm giấy khai sinh không được") == "e mún lm gks ko dc"
