"""The shipped static model as the gateway and the action server use it: numpy, no torch."""

import subprocess
import sys

from bot.knowledge.embedding import Encoder, is_static_model
from bot.text import abbreviate
from tests.conftest import ROOT

MODEL = ROOT / "models" / "embedding"


def test_model_folds_diacritics_itself():
    encoder = Encoder(str(MODEL))
    accented, folded = encoder.encode(["làm lại căn cước bị mất", "lam lai can cuoc bi mat"])
    assert float(accented @ folded) > 0.99


def test_vectors_are_unit_length_and_an_empty_text_is_zero():
    vectors = Encoder(str(MODEL)).encode(["đăng ký khai sinh", ""])
    assert abs(float(vectors[0] @ vectors[0]) - 1) < 1e-5
    assert not vectors[1].any()


def test_serving_the_shipped_model_imports_no_torch():
    code = (
        "import sys; from bot.knowledge.search import build_live_index, default_encoder; "
        "default_encoder().encode(['cấp lại căn cước']); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'sentence_transformers')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == "[]"


def test_only_a_static_embedding_folder_is_read_without_sentence_transformers(tmp_path):
    assert is_static_model(MODEL)
    (tmp_path / "modules.json").write_text(
        '[{"type": "sentence_transformers.models.Transformer"}, {"type": "sentence_transformers.models.Pooling"}]'
    )
    assert not is_static_model(tmp_path)
    assert not is_static_model(tmp_path / "missing")


def test_shipped_model_is_small():
    size = sum(p.stat().st_size for p in MODEL.iterdir())
    assert size <= 30_000_000


def test_abbreviate_writes_the_chat_register():
    assert abbreviate("em muốn làm giấy khai sinh không được") == "e mún lm gks ko dc"
