import yaml

from bot import nlu_build
from bot.text import normalize


def test_examples_are_normalised_like_run_time_text(tmp_path):
    source = tmp_path / "x.yml"
    source.write_text(
        'version: "3.1"\nnlu:\n  - intent: ask_fee\n    examples: |\n      - Lệ phí làm GKS bao nhiêu?\n      - le phi lam gks bao nhieu\n',
        encoding="utf-8",
    )
    nlu_build.build_file(source, tmp_path / "out.yml")
    built = yaml.safe_load((tmp_path / "out.yml").read_text(encoding="utf-8"))
    examples = [line[2:] for line in built["nlu"][0]["examples"].splitlines()]
    assert examples == [normalize("Lệ phí làm GKS bao nhiêu?"), normalize("le phi lam gks bao nhieu")]


def test_entity_markup_survives_normalisation():
    example = 'Làm [GKS]{"entity": "procedure", "value": "khai-sinh"} ở đâu?'
    assert (
        nlu_build.normalize_example(example)
        == 'làm [giấy khai sinh]{"entity": "procedure", "value": "khai-sinh"} ở đâu'
    )


def test_training_data_has_no_duplicates_after_normalising(tmp_path):
    source = tmp_path / "x.yml"
    source.write_text(
        'version: "3.1"\nnlu:\n  - intent: greet\n    examples: |\n      - Xin chào!\n      - xin chào\n',
        encoding="utf-8",
    )
    nlu_build.build_file(source, tmp_path / "out.yml")
    assert yaml.safe_load((tmp_path / "out.yml").read_text(encoding="utf-8"))["nlu"][0]["examples"] == "- xin chào\n"


def test_fingerprint_follows_the_model_inputs(monkeypatch, tmp_path):
    for name in ("config.yml", "domain.yml"):
        (tmp_path / name).write_text("a: 1\n")
    monkeypatch.setattr(nlu_build, "PROJECT_ROOT", tmp_path)
    monkeypatch.setattr(nlu_build, "MODEL_INPUTS", ["config.yml", "domain.yml"])
    before = nlu_build.fingerprint()
    assert nlu_build.fingerprint() == before
    (tmp_path / "domain.yml").write_text("a: 2\n")
    assert nlu_build.fingerprint() != before
