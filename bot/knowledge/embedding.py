"""The project's own Vietnamese sentence-embedding model, trained from its own corpus.

No model hub is reachable, so `make model` trains a small static-embedding model (a WordPiece
vocabulary learnt from the corpus, one vector per token, mean pooled) with in-batch contrastive
loss: texts that name the same procedure (titles, aliases, FAQ variants, NLU examples, with
diacritic-stripped and abbreviated copies) are pulled together. Seeded and reproducible; the
result is saved in `models/embedding/` in sentence-transformers' format.

Serving needs no torch: the static model is evaluated with numpy, its tokenizer and its weights
(`StaticEncoder`). Training, and any other model a deployment names in the EMBEDDING_MODEL setting,
use sentence-transformers and torch, the `model` extra (pyproject.toml, requirements/model.lock).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import yaml

from bot.knowledge.files import read_all
from bot.knowledge.schema import Procedure
from bot.text import abbreviate, fold, normalize

SEED = 20251127
ASPECT_TEMPLATES = [
    "{} cần giấy tờ gì",
    "{} cần những gì",
    "lệ phí {} bao nhiêu",
    "{} mất bao lâu",
    "{} ở đâu",
    "{} online được không",
    "thủ tục {} như thế nào",
    "muốn {} thì làm sao",
    "hỏi về {}",
    "{}",
]
ENTITY_RE = re.compile(r"\[([^\]]+)\]\{\"entity\": \"procedure\", \"value\": \"([a-z0-9-]+)\"\}")


def procedure_texts(entry: Procedure) -> list[str]:
    """The texts an entry is indexed by (and trained on)."""
    return [entry.title, *entry.aliases, *(q for f in entry.faq for q in f.questions), entry.summary]


def held_for_calibration(text: str) -> bool:
    """One NLU example in five is kept out of the embedding training to calibrate the search on
    realistic questions the model has not seen (a stable split by content)."""
    return int(hashlib.sha1(text.encode()).hexdigest(), 16) % 5 == 0


def nlu_examples(nlu_dir: Path, calibration: bool = False) -> dict[str, list[str]]:
    """NLU examples that mention one procedure, by slug (entity markup removed): the training
    part, or with `calibration` the part held out for calibration."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in sorted(nlu_dir.glob("*.yml")):
        for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            for line in (item.get("examples") or "").splitlines():
                slugs = {m.group(2) for m in ENTITY_RE.finditer(line)}
                text = ENTITY_RE.sub(r"\1", line.strip()[2:])
                if len(slugs) == 1 and held_for_calibration(text) == calibration:
                    found[slugs.pop()].append(text)
    return found


def anchors(entries: list[Procedure], nlu: dict[str, list[str]], rng: random.Random) -> list[tuple[str, str]]:
    """(text, slug) pairs in every register: accented, folded, abbreviated."""
    pairs = []
    for entry in entries:
        base = procedure_texts(entry) + nlu.get(entry.slug, [])
        base += [template.format(alias) for alias in [entry.title, *entry.aliases] for template in ASPECT_TEMPLATES]
        for text in base:
            text = normalize(text)
            for variant in dict.fromkeys((text, fold(text), abbreviate(text))):
                pairs.append((variant, entry.slug))
    rng.shuffle(pairs)
    return pairs


def build_tokenizer(texts: list[str], vocab_size: int):
    """A syllable vocabulary (Vietnamese words are syllables) plus single characters as the
    fallback for unseen ones. Built by counting, not by a trainer, so it is reproducible."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    normalizer = normalizers.Sequence(
        # Fold inside the model: a question typed without diacritics meets the same tokens.
        [normalizers.NFD(), normalizers.StripAccents(), normalizers.Replace("đ", "d"), normalizers.Lowercase()]
    )
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(word for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)))
    chars = sorted({c for word in counts for c in word})
    words = [w for w, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0])) if len(w) > 1]
    tokens = ["[UNK]", "[PAD]", *chars, *(f"##{c}" for c in chars), *words[: max(0, vocab_size - 2 - 2 * len(chars))]]
    tokenizer = Tokenizer(models.WordPiece({t: i for i, t in enumerate(tokens)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizer
    return tokenizer


def _batches(pairs: list[tuple[str, str]], size: int, rng: random.Random):
    """Batches with at most one anchor per procedure, so no other row is a false negative."""
    pending = list(pairs)
    while pending:
        batch, seen, rest = [], set(), []
        for text, slug in pending:
            if slug in seen or len(batch) == size:
                rest.append((text, slug))
            else:
                batch.append((text, slug))
                seen.add(slug)
        pending = rest
        if len(batch) > 1:
            yield batch
        rng.shuffle(pending)


def train(
    knowledge_dir: Path,
    nlu_dir: Path,
    out: Path,
    dim: int = 256,
    vocab_size: int = 6000,
    epochs: int = 6,
    batch_size: int = 24,
    limit: int | None = None,
) -> Path:
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding
    from tqdm import tqdm

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    rng = random.Random(SEED)

    entries, _ = read_all(knowledge_dir)
    pairs = anchors(entries, nlu_examples(nlu_dir), rng)[:limit]
    positives = {e.slug: [normalize(t) for t in procedure_texts(e)] for e in entries}
    tokenizer = build_tokenizer([t for t, _ in pairs] + [t for texts in positives.values() for t in texts], vocab_size)
    model = SentenceTransformer(modules=[StaticEmbedding(tokenizer, embedding_dim=dim)], device="cpu")
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    scale = 20.0

    def embed(texts: list[str]) -> "torch.Tensor":
        features = model.preprocess(texts)
        return torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)

    for epoch in range(1, epochs + 1):
        batches = list(_batches(pairs, batch_size, rng))
        progress = tqdm(batches, desc=f"embedding model, epoch {epoch}/{epochs}", unit="batch", mininterval=2)
        for batch in progress:
            texts = [t for t, _ in batch]
            targets = [rng.choice([p for p in positives[slug] if p != text] or positives[slug]) for text, slug in batch]
            scores = embed(texts) @ embed(targets).T * scale
            loss = torch.nn.functional.cross_entropy(scores, torch.arange(len(batch)))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            progress.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    out.mkdir(parents=True, exist_ok=True)
    model.save(str(out))
    return out


class ModelExtraMissing(RuntimeError):
    """EMBEDDING_MODEL names a model that needs sentence-transformers, which is not installed."""


def is_static_model(path: Path) -> bool:
    """A sentence-transformers folder holding one StaticEmbedding module (what `make model` saves)."""
    modules = path / "modules.json"
    if not modules.is_file():
        return False
    types = [m.get("type", "") for m in json.loads(modules.read_text(encoding="utf-8"))]
    return len(types) == 1 and types[0].endswith(".StaticEmbedding")


class StaticEncoder:
    """The static model without torch: the tokenizer's ids (no special tokens, no padding), then
    the mean of their rows, which is what sentence-transformers' EmbeddingBag computes."""

    def __init__(self, path: Path):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.table = load_file(str(path / "model.safetensors"))["embedding.weight"].astype(np.float32)

    def __call__(self, texts: list[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.table.shape[1]), dtype=np.float32)
        for row, encoding in enumerate(self.tokenizer.encode_batch(texts, add_special_tokens=False)):
            if encoding.ids:  # an empty bag stays zero, as in EmbeddingBag
                vectors[row] = self.table[encoding.ids].mean(axis=0)
        return vectors


class TransformerEncoder:
    """Any other sentence-transformers model, by path or id (the `model` extra)."""

    def __init__(self, name_or_path: str):
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ModelExtraMissing(
                f"EMBEDDING_MODEL={name_or_path} needs sentence-transformers: install the model extra "
                "(see README, 'Environments')"
            ) from exc
        self.model = SentenceTransformer(name_or_path, device="cpu")

    def __call__(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(texts, convert_to_numpy=True, show_progress_bar=False)


class Encoder:
    """Unit sentence vectors from a model folder or id; `id` names the model in the vector table."""

    def __init__(self, name_or_path: str):
        path = Path(name_or_path)
        self.embed = StaticEncoder(path) if is_static_model(path) else TransformerEncoder(name_or_path)
        weights = sorted(path.glob("*.safetensors")) if path.is_dir() else []
        digest = hashlib.sha256(name_or_path.encode() if not weights else b"".join(w.read_bytes() for w in weights))
        self.id = digest.hexdigest()[:16]

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = self.embed([normalize(t) for t in texts])
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-9)).astype(np.float32)
