#!/usr/bin/env python3
"""Writes the safetensors fixtures that Tests/ConaclipModelsTests/SafeTensorsTests.swift reads.

Run by hand from the repository root (never in CI; needs torch and safetensors):

    /opt/refenv/bin/python Tests/Reference/make_safetensors_fixture.py

Output, in Tests/ConaclipModelsTests/Fixtures/safetensors/:

- mixed_dtypes.safetensors: F32, F16 and BF16 tensors holding the edge values
  of each format (signed zeros, smallest and largest subnormals, smallest
  normal, largest finite, infinities, NaN), a scalar (shape []), an empty
  tensor (shape [0, 3]) and an I64 `position_ids` buffer, as Hugging Face
  checkpoints carry. Written by `safetensors.torch.save_file`.
- mixed_dtypes.expected.json: for each floating tensor, its dtype, shape and
  the float32 bit patterns torch produces with `.float()` (exact for all
  three formats), as hex strings so that NaN and -0 survive JSON.
- params.{f32,f16,bf16}.safetensors: the same small parameter set in each
  precision. The f16 and bf16 files hold torch's round-to-nearest-even
  conversion of the f32 values, which include exact ties, overflow to
  infinity and underflow to subnormals and zero. The Swift writer must
  reproduce these files byte for byte from the f32 file. NaN is left out
  here because torch's vectorised bf16 conversion writes NaN as 0xFFFF while
  its scalar path writes 0x7FC0; NaN handling is tested in Swift directly.
"""
import json
import os
import struct

import numpy as np
import torch
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "ConaclipModelsTests", "Fixtures", "safetensors")


def bits(dtype_np, values, torch_dtype):
    return torch.from_numpy(np.array(values, dtype=dtype_np).view(
        {np.uint16: np.int16}[dtype_np])).view(torch_dtype).clone()


def f32_from_bits(words):
    return torch.from_numpy(np.array(words, dtype=np.uint32).view(np.float32).copy())


def hex_bits(t):
    return ["%08x" % w for w in t.float().contiguous().reshape(-1).view(torch.int32).numpy().astype(np.uint32).tolist()]


def mixed():
    f16_words = [0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x3C00, 0xC000,
                 0x7BFF, 0xFBFF, 0x7C00, 0xFC00, 0x7E00, 0x3555, 0x0200, 0x3BFF]
    bf16_words = [0x0000, 0x8000, 0x0001, 0x8001, 0x007F, 0x0080, 0x3F80, 0xC000,
                  0x7F7F, 0xFF7F, 0x7F80, 0xFF80, 0x7FC0, 0x3EAB, 0x0040, 0x3F7F]
    f32_words = [0x00000000, 0x80000000, 0x00000001, 0x007FFFFF, 0x00800000, 0x3F800000,
                 0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000, 0x7FC00000, 0x3EAAAAAB]
    tensors = {
        "f16_edges": bits(np.uint16, f16_words, torch.float16).reshape(4, 4),
        "bf16_edges": bits(np.uint16, bf16_words, torch.bfloat16).reshape(2, 8),
        "f32_edges": f32_from_bits(f32_words).reshape(3, 2, 2),
        "logit_scale": torch.tensor(2.6592, dtype=torch.float32),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
        "text_model.embeddings.position_ids": torch.arange(4, dtype=torch.int64).reshape(1, 4),
    }
    path = os.path.join(OUT, "mixed_dtypes.safetensors")
    save_file(tensors, path, metadata={"format": "pt", "made_by": "make_safetensors_fixture.py"})
    expected = {}
    for name, t in tensors.items():
        if t.dtype == torch.int64:
            continue
        expected[name] = {
            "dtype": {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}[t.dtype],
            "shape": list(t.shape),
            "f32_bits": hex_bits(t),
        }
    with open(os.path.join(OUT, "mixed_dtypes.expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


def params():
    g = torch.Generator().manual_seed(20240611)
    one = 1.0
    specials = [
        one + 2.0**-11, one + 3 * 2.0**-11,      # f16 ties: to even (down), to even (up)
        one + 2.0**-8, one + 3 * 2.0**-8,        # bf16 ties
        65504.0, 65519.0, 65520.0, 1e6,          # f16 largest, below and at the overflow tie, beyond
        2.0**-24, 2.0**-25, 1.5 * 2.0**-25, 3 * 2.0**-25,  # f16 subnormal rounding and underflow
        2.0**-14 - 2.0**-25,                     # rounds up into the smallest f16 normal
        3.4028234663852886e38, -0.0, float("inf"), float("-inf"),
        1e-40, -1e-45,                           # f32 subnormals
    ]
    weight = torch.randn(6, 8, generator=g) * 0.5
    weight.view(-1)[: len(specials)] = torch.tensor(specials, dtype=torch.float32)
    f32 = {
        "layer.weight": weight,
        "layer.bias": torch.randn(6, generator=g) * 1e-3,
        "embedding.weight": torch.randn(5, 4, generator=g) * 100,
        "logit_scale": torch.tensor(2.6592),
        "class_embedding": torch.randn(4, generator=g) * 1e-6,
    }
    for suffix, dtype in (("f32", torch.float32), ("f16", torch.float16), ("bf16", torch.bfloat16)):
        converted = {k: v.to(dtype).contiguous() for k, v in f32.items()}
        save_file(converted, os.path.join(OUT, f"params.{suffix}.safetensors"), metadata={"format": "pt"})


def main():
    os.makedirs(OUT, exist_ok=True)
    mixed()
    params()
    for name in sorted(os.listdir(OUT)):
        path = os.path.join(OUT, name)
        with open(path, "rb") as f:
            head = f.read(8)
        size = os.path.getsize(path)
        if name.endswith(".safetensors"):
            print(name, size, "bytes, header", struct.unpack("<Q", head)[0])


if __name__ == "__main__":
    main()
