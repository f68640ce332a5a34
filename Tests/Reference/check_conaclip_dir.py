#!/usr/bin/env python3
"""Check a CLIP directory written by conaclip against Hugging Face transformers.

Run by hand (never from CI):

    /opt/refenv/bin/python Tests/Reference/check_conaclip_dir.py DIR \\
        --images a.png b.jpg --texts "a photo of a cat" "a dog" \\
        --embeddings conaclip-embeddings.safetensors

DIR must load with `transformers.CLIPModel.from_pretrained` and
`CLIPTokenizer.from_pretrained` (config.json, model.safetensors, vocab.json +
merges.txt or tokenizer.json); if it has no preprocessor_config.json the images
are preprocessed CLIP-style at the model's own image size. The script computes
L2-normalised image and text embeddings with transformers and, given
--embeddings, compares them with the file's `image_embeds` [nImages, D] and
`text_embeds` [nTexts, D] (rows in the order of --images / --texts). If the file
also holds `image_features` / `text_features` (unnormalised projections) or
`input_ids` [nTexts, context], those are compared too. It prints the largest
absolute difference per tensor and exits 1 if any exceeds --tolerance
(default 1e-4), 2 if the inputs are unusable. Without --embeddings it only
prints the embeddings' shapes, or writes them with --write FILE.

With --conaclip BIN the script runs `BIN embed` itself on the same images and
texts and compares with that output (no --embeddings needed).

With --export it also checks what `conaclip export` promises, for a directory
that must work on its own in transformers: every file is there (config.json,
model.safetensors, vocab.json, merges.txt, tokenizer_config.json,
special_tokens_map.json, preprocessor_config.json), the model loads with
CLIPModel, the tokenizer with CLIPTokenizer (and CLIPTokenizerFast), the image
processor with CLIPImageProcessor, and CLIPProcessor loads the whole directory
and gives the same input_ids and pixel_values as the separate classes:

    /opt/refenv/bin/python Tests/Reference/check_conaclip_dir.py EXPORTED_DIR --export \\
        --conaclip .build/release/conaclip --images a.png b.png --texts "a red heart" "a cat"
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.numpy import load_file, save_file
from transformers import CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer, CLIPTokenizerFast

EXPORT_FILES = ("config.json", "model.safetensors", "vocab.json", "merges.txt", "tokenizer_config.json",
                "special_tokens_map.json", "preprocessor_config.json")


def fail(message: str) -> "NoReturn":  # noqa: F821
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def projected(output) -> torch.Tensor:
    """get_*_features returns a tensor in transformers 4.x and an output object in 5.x."""
    return getattr(output, "pooler_output", output)


def main() -> int:
    parser = argparse.ArgumentParser(description="Compare conaclip's embeddings with Hugging Face CLIP's.")
    parser.add_argument("dir", type=Path, help="model directory written by conaclip")
    parser.add_argument("--images", nargs="+", default=[], type=Path, help="image files, in embedding-row order")
    parser.add_argument("--texts", nargs="+", default=[], help="texts, in embedding-row order")
    parser.add_argument("--texts-file", type=Path, help="read texts from this file, one per line (appended to --texts)")
    parser.add_argument("--embeddings", type=Path, help="safetensors file from conaclip with image_embeds / text_embeds")
    parser.add_argument("--write", type=Path, help="also write the Hugging Face embeddings to this safetensors file")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="largest allowed absolute difference")
    parser.add_argument("--conaclip", type=Path, help="conaclip binary: run its `embed` on the same inputs and compare")
    parser.add_argument("--export", action="store_true",
                        help="also check the directory as `conaclip export` output (files, CLIPProcessor)")
    args = parser.parse_args()

    texts = list(args.texts)
    if args.texts_file:
        texts += args.texts_file.read_text(encoding="utf-8").splitlines()
    if not args.images and not texts:
        fail("give --images and/or --texts to embed")
    if not args.dir.is_dir():
        fail(f"{args.dir} is not a directory")
    if args.embeddings and not args.embeddings.is_file():
        fail(f"{args.embeddings} does not exist")
    for path in args.images:
        if not path.is_file():
            fail(f"image {path} does not exist")
    if args.export:
        missing = [name for name in EXPORT_FILES if not (args.dir / name).is_file()]
        if missing:
            print(f"export: missing {', '.join(missing)}  MISMATCH")
            print("FAIL")
            return 1
        print(f"export: all of {', '.join(EXPORT_FILES)} present")
    if args.conaclip:
        if args.embeddings:
            fail("give either --embeddings or --conaclip, not both")
        scratch = Path(tempfile.mkdtemp(prefix="conaclip-check-"))
        args.embeddings = scratch / "conaclip.safetensors"
        command = [str(args.conaclip), "embed", "--model", str(args.dir), "--out", str(args.embeddings)]
        if args.images:
            command += ["--image", *map(str, args.images)]
        if texts:
            command += ["--text", *texts]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            fail(f"{' '.join(command)} failed:\n{done.stderr}")
        print(f"conaclip: {done.stdout.strip()}")

    # conaclip computes in float32 whatever the precision on disk; so must the reference.
    model = CLIPModel.from_pretrained(args.dir, dtype=torch.float32).eval()
    ours: dict[str, np.ndarray] = {}
    with torch.no_grad():
        if texts:
            tokenizer = CLIPTokenizer.from_pretrained(args.dir)
            context = model.config.text_config.max_position_embeddings
            encoded = tokenizer(texts, padding="max_length", max_length=context, truncation=True, return_tensors="pt")
            features = projected(model.get_text_features(input_ids=encoded["input_ids"],
                                                        attention_mask=encoded["attention_mask"]))
            ours["input_ids"] = encoded["input_ids"].numpy()
            ours["text_features"] = features.numpy()
            ours["text_embeds"] = (features / features.norm(dim=-1, keepdim=True)).numpy()
        if args.images:
            if (args.dir / "preprocessor_config.json").is_file():
                processor = CLIPImageProcessor.from_pretrained(args.dir)
            else:
                size = model.config.vision_config.image_size
                processor = CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
            images = []
            for path in args.images:
                with Image.open(path) as image:
                    image.load()
                    images.append(image.copy())
            pixel_values = processor(images=images, return_tensors="pt")["pixel_values"]
            features = projected(model.get_image_features(pixel_values=pixel_values))
            ours["image_features"] = features.numpy()
            ours["image_embeds"] = (features / features.norm(dim=-1, keepdim=True)).numpy()

    export_ok = True
    if args.export:
        export_ok = check_export(args.dir, model, texts, args.images)

    if args.write:
        save_file({k: np.ascontiguousarray(v.astype(np.float32)) for k, v in ours.items()}, str(args.write))
        print(f"wrote {args.write}")
    if not args.embeddings:
        for name, value in ours.items():
            print(f"{name}: shape {list(value.shape)}")
        return 0

    theirs = load_file(str(args.embeddings))
    required = [k for k in ("image_embeds", "text_embeds") if k in ours]
    missing = [k for k in required if k not in theirs]
    if missing:
        fail(f"{args.embeddings} has no {', '.join(missing)} (it holds {', '.join(sorted(theirs)) or 'nothing'})")

    ok = True
    for name in ("input_ids", "image_features", "image_embeds", "text_features", "text_embeds"):
        if name not in ours or name not in theirs:
            continue
        expected, actual = ours[name], theirs[name]
        if expected.shape != actual.shape:
            print(f"{name}: shape {list(actual.shape)} but Hugging Face gives {list(expected.shape)}  MISMATCH")
            ok = False
            continue
        if name == "input_ids":
            rows = [i for i in range(len(expected)) if not np.array_equal(expected[i], actual[i].astype(np.int64))]
            print(f"input_ids: {'identical' if not rows else 'differ in rows ' + str(rows)}")
            for i in rows:
                print(f"  text {texts[i]!r}\n    hf:       {expected[i].tolist()}\n    conaclip: {actual[i].astype(np.int64).tolist()}")
            ok &= not rows
            continue
        diff = np.abs(expected.astype(np.float64) - actual.astype(np.float64))
        worst = float(diff.max()) if diff.size else 0.0
        row = int(np.unravel_index(diff.argmax(), diff.shape)[0]) if diff.size else 0
        good = bool(np.isfinite(actual).all()) and worst <= args.tolerance
        print(f"{name}: max abs diff {worst:.3e} (row {row}) {'ok' if good else 'MISMATCH'}")
        ok &= good
    ok &= export_ok
    print("PASS" if ok else f"FAIL (tolerance {args.tolerance:g})")
    return 0 if ok else 1


def check_export(directory: Path, model: CLIPModel, texts: list[str], image_paths: list[Path]) -> bool:
    """Loads the directory the ways users do and checks they agree with each other."""
    ok = True
    context = model.config.text_config.max_position_embeddings
    slow = CLIPTokenizer.from_pretrained(directory)
    fast = CLIPTokenizerFast.from_pretrained(directory)
    image_processor = CLIPImageProcessor.from_pretrained(directory)
    processor = CLIPProcessor.from_pretrained(directory)
    print(f"export: loaded CLIPModel ({sum(p.numel() for p in model.parameters())} parameters), "
          f"{type(slow).__name__}, {type(fast).__name__}, {type(image_processor).__name__}, {type(processor).__name__}")
    if slow.model_max_length != context:
        print(f"export: tokenizer model_max_length {slow.model_max_length} != context {context}  MISMATCH")
        ok = False
    for name, token_id in (("bos", model.config.text_config.bos_token_id), ("eos", model.config.text_config.eos_token_id)):
        if getattr(slow, f"{name}_token_id") != token_id:
            print(f"export: tokenizer {name}_token_id {getattr(slow, f'{name}_token_id')} != config {token_id}  MISMATCH")
            ok = False
    images = []
    for path in image_paths:
        with Image.open(path) as image:
            image.load()
            images.append(image.copy())
    kwargs = {}
    if texts:
        kwargs.update(text=texts, padding="max_length", max_length=context, truncation=True)
    if images:
        kwargs.update(images=images)
    if kwargs:
        both = processor(return_tensors="pt", **kwargs)
        if texts:
            alone = slow(texts, padding="max_length", max_length=context, truncation=True, return_tensors="pt")
            by_fast = fast(texts, padding="max_length", max_length=context, truncation=True, return_tensors="pt")
            same = torch.equal(both["input_ids"], alone["input_ids"]) and torch.equal(by_fast["input_ids"], alone["input_ids"])
            print(f"export: CLIPProcessor / CLIPTokenizer / CLIPTokenizerFast input_ids {'identical' if same else 'differ  MISMATCH'}")
            ok &= same
        if images:
            alone = image_processor(images=images, return_tensors="pt")["pixel_values"]
            same = torch.equal(both["pixel_values"], alone)
            print(f"export: CLIPProcessor / CLIPImageProcessor pixel_values {'identical' if same else 'differ  MISMATCH'}")
            ok &= same
        with torch.no_grad():
            output = model(**{k: v for k, v in both.items() if k in ("input_ids", "attention_mask", "pixel_values")}) \
                if texts and images else None
        if output is not None:
            print(f"export: CLIPModel(**processor(...)) logits_per_image shape {list(output.logits_per_image.shape)}")
    return ok


if __name__ == "__main__":
    sys.exit(main())
