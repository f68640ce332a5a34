#!/usr/bin/env python3
"""Build the tiny Hugging Face CLIP parity fixture used by conaclip's Swift tests.

Run by hand (never from CI), from the repository root:

    /opt/refenv/bin/python Tests/Reference/make_hf_fixture.py

It needs torch, transformers 5.x, safetensors, pillow and numpy, and no network.
Everything is seeded, so running it twice writes byte-identical files (with the
same library versions). Output, under Tests/ConaclipModelsTests/Fixtures/hf-tiny-clip/:

    model/                 a random tiny transformers.CLIPModel (save_pretrained, safetensors)
                           plus vocab.json, merges.txt, tokenizer.json, tokenizer_config.json
                           and preprocessor_config.json
    images/                32x32 test images (PNG in several colour types, one JPEG)
    expected.json          texts, Hugging Face token ids and attention masks, image list
    expected.safetensors   F32 tensors computed by transformers from the files above:
        pixel_values       [nImages, 3, 32, 32]  CLIPImageProcessor output
        image_pooled       [nImages, 32]  vision pooler output (post layer norm, before projection)
        image_features     [nImages, 24]  projected, not normalised (get_image_features)
        image_embeds       [nImages, 24]  L2-normalised image_features
        text_pooled        [nTexts, 32]   text pooler output (end-of-text token, before projection)
        text_features      [nTexts, 24]   projected, not normalised (get_text_features)
        text_embeds        [nTexts, 24]   L2-normalised text_features
        logits_per_image   [nImages, nTexts]  exp(logit_scale) * image_embeds @ text_embeds.T
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import html
import json
import math
import os
import shutil
import sys
import tempfile
import unicodedata
from pathlib import Path

import numpy as np
import regex
import safetensors
import torch
import transformers
from PIL import Image
from safetensors.numpy import save_file
from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizer

SEED = 20240607
CONTEXT_LENGTH = 16
IMAGE_SIZE = 32
NUM_MERGES = 300
BOS = "<|startoftext|>"
EOS = "<|endoftext|>"
# CLIP's pre-tokenizer pattern (OpenAI simple_tokenizer.py, lower-cased input).
CLIP_PATTERN = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE,
)

# Text the BPE merges are learnt from: caption-like English, so that common
# words become single tokens while rarer ones stay split into pieces.
BPE_CORPUS = """
a photo of a cat sitting on a red sofa in the living room.
a photo of a dog running on the beach at sunset.
two dogs and a cat playing together in the garden.
a close up photo of a smiling face with heart eyes.
the birthday party had a big chocolate cake with candles.
a bowl of fruit on a wooden table: apples, bananas and oranges.
a man riding a bicycle down a busy city street at night.
a woman reading a book in a quiet library.
an aerial photo of the mountains covered in snow.
a painting of a ship sailing on a stormy sea.
the cat is sleeping on the windowsill in the morning sun.
a group of people standing around a camp fire.
a plate of pasta with tomato sauce and fresh basil.
a photo of the night sky full of stars.
a small bird sitting on the branch of a tree.
a red car parked in front of a white house.
children playing football in the park after school.
a cup of coffee and a croissant on a cafe table.
a photo of a dog wearing a party hat on its birthday.
an emoji of a smiling face, a heart, a cat face and a thumbs up.
the photo shows a happy dog and a sleepy cat on the sofa.
"""

TEXTS = [
    "a photo of a cat",
    "A Dog's BIRTHDAY party!!!",
    "  Two\tdogs \n and   a cat  ",
    # "e" + combining acute accent (NFD); CLIP normalises to NFC before splitting.
    "Cafe\u0301's table",
    "in 2024: 3 cats & 12 dogs",
    "smiling face \U0001F600 with heart eyes \U0001F60D",
    "a very long caption that keeps going well past the sixteen token context of this tiny model",
    "",
]


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2 / CLIP byte -> printable unicode symbol table, in CLIP's vocabulary order."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


BYTE_ENCODER = bytes_to_unicode()


def whitespace_clean(text: str) -> str:
    return regex.sub(r"\s+", " ", text).strip()


def pre_tokenize(text: str) -> list[str]:
    """Words as CLIP's BPE sees them: cleaned, lower-cased, split, byte-encoded."""
    text = whitespace_clean(unicodedata.normalize("NFC", text)).lower()
    return ["".join(BYTE_ENCODER[b] for b in word.encode("utf-8")) for word in CLIP_PATTERN.findall(text)]


def learn_bpe(corpus: str, num_merges: int, base_vocab: set[str]) -> list[tuple[str, str]]:
    """A plain BPE trainer: repeatedly merge the most frequent adjacent pair.

    Ties are broken by the pair's string order; a pair whose merged string is
    already a token is skipped so every merge adds exactly one new token
    (vocabulary id = 512 + merge rank, as in OpenAI's CLIP vocabulary)."""
    words = collections.Counter()
    for line in corpus.strip().splitlines():
        for word in pre_tokenize(line):
            words[tuple(word[:-1]) + (word[-1] + "</w>",)] += 1
    known = set(base_vocab)
    merges: list[tuple[str, str]] = []
    while len(merges) < num_merges:
        pairs = collections.Counter()
        for word, freq in words.items():
            for a, b in zip(word, word[1:]):
                pairs[(a, b)] += freq
        candidates = sorted((-count, pair) for pair, count in pairs.items() if pair[0] + pair[1] not in known)
        if not candidates:
            break
        a, b = candidates[0][1]
        merges.append((a, b))
        known.add(a + b)
        merged = collections.Counter()
        for word, freq in words.items():
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and word[i] == a and word[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] += freq
        words = merged
    if len(merges) < num_merges:
        raise SystemExit(f"corpus too small: only {len(merges)} merges learnt, wanted {num_merges}")
    return merges


class ReferenceBPE:
    """OpenAI's original CLIP tokenizer logic (simple_tokenizer.py, minus ftfy), as an
    independent cross-check of transformers' tokenizers-backed CLIPTokenizer."""

    def __init__(self, vocab: dict[str, int], merges: list[tuple[str, str]]):
        self.vocab = vocab
        self.ranks = {pair: i for i, pair in enumerate(merges)}

    def bpe(self, token: str) -> list[str]:
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        while len(word) > 1:
            pairs = set(zip(word, word[1:]))
            bigram = min(pairs, key=lambda p: self.ranks.get(p, math.inf))
            if bigram not in self.ranks:
                break
            first, second = bigram
            new_word, i = [], 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                except ValueError:
                    new_word.extend(word[i:])
                    break
                new_word.extend(word[i:j])
                i = j
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
        return list(word)

    def encode(self, text: str, context_length: int) -> tuple[list[int], list[int]]:
        text = html.unescape(html.unescape(text))
        ids = [self.vocab[BOS]]
        for word in pre_tokenize(text):
            ids.extend(self.vocab[piece] for piece in self.bpe(word))
        ids = ids[: context_length - 1] + [self.vocab[EOS]]
        mask = [1] * len(ids) + [0] * (context_length - len(ids))
        return ids + [self.vocab[EOS]] * (context_length - len(ids)), mask


def make_images(rng: np.random.Generator) -> list[tuple[str, Image.Image, str]]:
    """Deterministic 32x32 images with some structure, in the colour types conaclip must read."""
    y, x = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE].astype(np.float64)
    images = []

    rgb = np.stack([8 * x, 8 * y, 255 - 4 * (x + y)], axis=-1)
    rgb[(x - 16) ** 2 + (y - 12) ** 2 < 60] = (250, 220, 30)
    rgb += rng.normal(0, 12, rgb.shape)
    images.append(("rgb.png", Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB"), "8-bit RGB PNG"))

    gray = 128 + 100 * np.sin(x / 3) * np.cos(y / 5) + rng.normal(0, 10, x.shape)
    images.append(("gray.png", Image.fromarray(np.clip(gray, 0, 255).astype(np.uint8), "L"), "8-bit grayscale PNG"))

    rgba = np.zeros((IMAGE_SIZE, IMAGE_SIZE, 4))
    rgba[..., 0] = 200 * (x > 10)
    rgba[..., 1] = 7 * y
    rgba[..., 2] = rng.integers(0, 256, x.shape)
    rgba[..., 3] = np.clip(8 * x + 4 * y - 40, 0, 255)  # fully transparent, partial and opaque pixels
    images.append((
        "rgba.png", Image.fromarray(np.clip(rgba, 0, 255).astype(np.uint8), "RGBA"),
        "8-bit RGBA PNG; Hugging Face composites alpha onto white",
    ))

    palette = Image.fromarray(np.clip(rgb[::-1] * 0.8, 0, 255).astype(np.uint8), "RGB").quantize(colors=16, dither=Image.Dither.NONE)
    images.append(("palette.png", palette, "8-bit palette PNG, 16 colours, no transparency"))

    photo = np.stack([128 + 90 * np.sin((x + y) / 4), 60 + 3 * x, 200 - 5 * y], axis=-1) + rng.normal(0, 20, (IMAGE_SIZE, IMAGE_SIZE, 3))
    images.append(("photo.jpg", Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8), "RGB"), "baseline JPEG, quality 90, 4:2:0"))
    return images


def build_config(vocab_size: int, bos_id: int, eos_id: int) -> CLIPConfig:
    return CLIPConfig(
        text_config=dict(
            vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=4, max_position_embeddings=CONTEXT_LENGTH, hidden_act="gelu",
            layer_norm_eps=1e-5, bos_token_id=bos_id, eos_token_id=eos_id, pad_token_id=eos_id,
            projection_dim=24,
        ),
        vision_config=dict(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            image_size=IMAGE_SIZE, patch_size=8, num_channels=3, hidden_act="quick_gelu",
            layer_norm_eps=1e-5, projection_dim=24,
        ),
        projection_dim=24,
        logit_scale_init_value=2.6592,
    )


def perturb(model: CLIPModel, generator: torch.Generator) -> None:
    """Move the parameters Hugging Face initialises to constants (layer-norm scales
    and shifts, linear biases, logit_scale) to random values so they are tested,
    sharpen attention so a wrong mask or head split changes the result, and widen
    the MLP pre-activations so the choice of activation function shows (GELU vs
    quick-GELU differ by ~7e-3 in the embeddings, erf vs tanh GELU by ~1.5e-4)."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=generator)
            if ("layer_norm" in name or "layrnorm" in name) and name.endswith("weight"):
                param.copy_(1 + 0.3 * noise)
            elif name.endswith("bias"):
                param.copy_(0.1 * noise)
            elif name.endswith(("q_proj.weight", "k_proj.weight")):
                param.mul_(2.5)
            elif name.endswith("fc1.weight"):
                param.mul_(3.0)
            elif name.endswith("fc2.weight"):
                param.mul_(2.0)
        model.logit_scale.fill_(3.0)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    repo = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=repo / "Tests/ConaclipModelsTests/Fixtures/hf-tiny-clip")
    args = parser.parse_args()
    out: Path = args.out
    model_dir, image_dir = out / "model", out / "images"
    if out.exists():
        shutil.rmtree(out)
    model_dir.mkdir(parents=True)
    image_dir.mkdir(parents=True)

    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    generator = torch.Generator().manual_seed(SEED)

    # --- tokenizer -------------------------------------------------------------
    byte_symbols = list(BYTE_ENCODER.values())
    base = byte_symbols + [s + "</w>" for s in byte_symbols]
    merges = learn_bpe(BPE_CORPUS, NUM_MERGES, set(base))
    tokens = base + [a + b for a, b in merges] + [BOS, EOS]
    assert len(set(tokens)) == len(tokens), "duplicate vocabulary entries"
    vocab = {token: i for i, token in enumerate(tokens)}
    bos_id, eos_id = vocab[BOS], vocab[EOS]
    (model_dir / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False) + "\n", encoding="utf-8")
    (model_dir / "merges.txt").write_text(
        "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8"
    )
    # transformers 5.x's CLIPTokenizer takes the vocabulary and merges themselves.
    tokenizer = CLIPTokenizer(vocab=dict(vocab), merges=list(merges), model_max_length=CONTEXT_LENGTH)
    tokenizer.save_pretrained(model_dir)
    for stray in ("special_tokens_map.json", "added_tokens.json"):
        if (model_dir / stray).exists():
            (model_dir / stray).unlink()

    tokenizer = CLIPTokenizer.from_pretrained(model_dir)
    encoded = tokenizer(TEXTS, padding="max_length", max_length=CONTEXT_LENGTH, truncation=True, return_tensors="pt")
    input_ids, attention_mask = encoded["input_ids"], encoded["attention_mask"]

    # Cross-checks: the files conaclip reads (vocab.json + merges.txt alone) give the
    # same ids as tokenizer.json, and so does OpenAI's original algorithm.
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("vocab.json", "merges.txt"):
            shutil.copy(model_dir / name, tmp)
        from_files = CLIPTokenizer.from_pretrained(tmp)
        again = from_files(TEXTS, padding="max_length", max_length=CONTEXT_LENGTH, truncation=True, return_tensors="pt")
        assert torch.equal(again["input_ids"], input_ids), "vocab.json/merges.txt disagree with tokenizer.json"
    reference = ReferenceBPE(vocab, merges)
    for text, ids, mask in zip(TEXTS, input_ids.tolist(), attention_mask.tolist()):
        ref_ids, ref_mask = reference.encode(text, CONTEXT_LENGTH)
        assert (ref_ids, ref_mask) == (ids, mask), f"original CLIP BPE disagrees on {text!r}: {ref_ids} vs {ids}"
    assert any(m == [1] * CONTEXT_LENGTH for m in attention_mask.tolist()), "no text reaches the truncation limit"

    # --- images ------------------------------------------------------------------
    image_entries, pil_images = [], []
    for name, image, description in make_images(rng):
        path = image_dir / name
        if name.endswith(".jpg"):
            image.save(path, format="JPEG", quality=90, subsampling="4:2:0", optimize=False, progressive=False)
        else:
            image.save(path, format="PNG", optimize=False, compress_level=9)
        with Image.open(path) as reopened:
            reopened.load()
            pil_images.append(reopened.copy())
        image_entries.append({"file": f"images/{name}", "mode": image.mode, "description": description})

    processor = CLIPImageProcessor(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
    )
    processor.save_pretrained(model_dir)
    pixel_values = processor(images=pil_images, return_tensors="pt")["pixel_values"].float()
    assert pixel_values.shape == (len(pil_images), 3, IMAGE_SIZE, IMAGE_SIZE)
    # At 32x32 resizing and cropping are the identity: check that pixel_values is
    # exactly rescale + normalise of the RGB (alpha composited onto white) pixels.
    mean = np.array(processor.image_mean, dtype=np.float64)[:, None, None]
    std = np.array(processor.image_std, dtype=np.float64)[:, None, None]
    for image, values in zip(pil_images, pixel_values.numpy()):
        if "A" in image.getbands():
            white = Image.new("RGBA", image.size, (255, 255, 255, 255))
            image = Image.alpha_composite(white, image.convert("RGBA"))
        rgb = np.asarray(image.convert("RGB"), dtype=np.float64).transpose(2, 0, 1)
        manual = (rgb / 255.0 - mean) / std
        assert np.abs(manual - values).max() < 1e-5, "CLIPImageProcessor is not the identity resize at 32x32"

    # --- model -------------------------------------------------------------------
    config = build_config(len(vocab), bos_id, eos_id)
    model = CLIPModel(config).eval()
    perturb(model, generator)
    model.save_pretrained(model_dir, safe_serialization=True)
    model = CLIPModel.from_pretrained(model_dir).eval()

    with torch.no_grad():
        image_pooled = model.vision_model(pixel_values=pixel_values).pooler_output
        image_features = model.get_image_features(pixel_values=pixel_values)
        image_features = getattr(image_features, "pooler_output", image_features)
        text_pooled = model.text_model(input_ids=input_ids, attention_mask=attention_mask).pooler_output
        text_features = model.get_text_features(input_ids=input_ids, attention_mask=attention_mask)
        text_features = getattr(text_features, "pooler_output", text_features)
        # The padding mask must not matter: pooling is at the first end-of-text
        # token and attention is causal, so conaclip need not implement it.
        unmasked = model.get_text_features(input_ids=input_ids)
        unmasked = getattr(unmasked, "pooler_output", unmasked)
        assert torch.allclose(unmasked, text_features, atol=1e-6), "padding mask changed text features"
        outputs = model(input_ids=input_ids, attention_mask=attention_mask, pixel_values=pixel_values)
    image_embeds = image_features / image_features.norm(dim=-1, keepdim=True)
    text_embeds = text_features / text_features.norm(dim=-1, keepdim=True)
    assert torch.allclose(outputs.image_embeds, image_embeds, atol=1e-6)
    assert torch.allclose(outputs.text_embeds, text_embeds, atol=1e-6)
    assert abs(model.logit_scale.item() - 3.0) < 1e-6

    tensors = {
        "pixel_values": pixel_values,
        "image_pooled": image_pooled,
        "image_features": image_features,
        "image_embeds": image_embeds,
        "text_pooled": text_pooled,
        "text_features": text_features,
        "text_embeds": text_embeds,
        "logits_per_image": outputs.logits_per_image,
    }
    save_file({k: np.ascontiguousarray(v.detach().numpy().astype(np.float32)) for k, v in tensors.items()},
              str(out / "expected.safetensors"))

    expected = {
        "generator": "Tests/Reference/make_hf_fixture.py",
        "versions": {"transformers": transformers.__version__, "torch": torch.__version__.split("+")[0],
                     "safetensors": safetensors.__version__, "numpy": np.__version__,
                     "pillow": Image.__version__},
        "seed": SEED,
        "context_length": CONTEXT_LENGTH,
        "bos_token_id": bos_id,
        "eos_token_id": eos_id,
        "pad_token_id": eos_id,
        "logit_scale": 3.0,
        "tolerance": 1e-4,
        "texts": TEXTS,
        "input_ids": input_ids.tolist(),
        "attention_mask": attention_mask.tolist(),
        "images": image_entries,
        "sha256": {str(p.relative_to(out)): sha256(p) for p in sorted(out.rglob("*")) if p.is_file()},
    }
    (out / "expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=True) + "\n", encoding="utf-8")

    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out} ({total} bytes, vocab {len(vocab)}, {len(merges)} merges)")
    for text, ids, mask in zip(TEXTS, input_ids.tolist(), attention_mask.tolist()):
        print(f"  {text!r:60} -> {ids[: sum(mask)]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
